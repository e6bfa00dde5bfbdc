#include "app/server.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>

#include "app/configure.hpp"
#include "app/worker_main.hpp"
#include "logging/log.hpp"
#include "net/listener.hpp"
#include "process/master.hpp"
#include "process/master_fifo.hpp"
#include "process/scoreboard.hpp"
#include "process/spawner.hpp"
#include "stats/stats_server.hpp"
#include "worker/request_log.hpp"

namespace trellis::core {

namespace {

// uWSGI's generic listening option: `protocol = NAME` gives its addresses
// to another protocol plugin than the one that declares it.
constexpr std::string_view kGenericSocketOption = "socket";

const char* kind_name(uint32_t kind) {
  switch (kind) {
    case TRELLIS_KIND_RUNTIME: return "runtime";
    case TRELLIS_KIND_PROTOCOL: return "protocol";
    case TRELLIS_KIND_LOCK_ENGINE: return "lock-engine";
    default: return "general";
  }
}

struct StartupError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Loaded plugins first, then those the search directories offer.
void print_plugins(PluginLoader& loader) {
  // BUILT-WITH is informative (the boundary is C): one word, so PATH stays
  // the last column for scripts that read it.
  auto row = [](const PluginRecord& r, const char* state) {
    std::string built = r.descriptor->toolchain && *r.descriptor->toolchain ? r.descriptor->toolchain : "?";
    std::replace(built.begin(), built.end(), ' ', '/');
    std::printf("%-14s %-12s %-10s %-10s %-24s %s\n", r.name.c_str(), kind_name(r.descriptor->kind),
                r.descriptor->version, state, built.c_str(), r.path.c_str());
  };
  std::printf("%-14s %-12s %-10s %-10s %-24s %s\n", "PLUGIN", "KIND", "VERSION", "STATE", "BUILT-WITH", "PATH");
  for (auto& r : loader.loaded()) row(r, "loaded");
  for (const PluginRecord* r : loader.scan_available()) row(*r, "available");
}

// The resolved configuration as a [trellis] ini file: what the user set,
// from whatever source, after precedence and plugin auto-loading.
void print_config(const Configured& c) {
  std::printf("[trellis]\n");
  for (auto& r : c.loader->loaded()) std::printf("plugin = %s\n", r.name.c_str());
  for (auto& def : c.options) {
    if (def.name == "show-config" || def.name == "plugin" || !c.config.was_set(def.name)) continue;
    for (auto& v : c.config.values(def.name)) std::printf("%s = %s\n", def.name.c_str(), v.c_str());
  }
}

void drop_privileges(const config::Config& cfg) {
  auto gid = cfg.get("gid");
  auto uid = cfg.get("uid");
  if (gid) {
    char* end = nullptr;
    gid_t g = static_cast<gid_t>(std::strtoul(gid->c_str(), &end, 10));
    if (*end) {
      group* gr = getgrnam(gid->c_str());
      if (!gr) throw StartupError("unknown group '" + *gid + "' (--gid)");
      g = gr->gr_gid;
    }
    if (setgroups(0, nullptr) != 0 && errno != EPERM) throw StartupError("setgroups failed");
    if (setgid(g) != 0) throw StartupError("cannot switch to group '" + *gid + "': " + std::strerror(errno));
  }
  if (uid) {
    char* end = nullptr;
    uid_t u = static_cast<uid_t>(std::strtoul(uid->c_str(), &end, 10));
    if (*end) {
      passwd* pw = getpwnam(uid->c_str());
      if (!pw) throw StartupError("unknown user '" + *uid + "' (--uid)");
      u = pw->pw_uid;
    }
    if (setuid(u) != 0) throw StartupError("cannot switch to user '" + *uid + "': " + std::strerror(errno));
  }
  if (geteuid() == 0)
    spdlog::warn("serving as root: use --uid and --gid to drop privileges after the sockets are bound");
}

void daemonize(const std::string& logfile) {
  // Everything that can fail is tried before the parent exits, so a bad
  // log path is an error the caller of trellis sees, not a silent death.
  int out = open(logfile.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (out < 0) throw StartupError("cannot open the --daemonize log file " + logfile + ": " + std::strerror(errno));
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (devnull < 0) throw StartupError(std::string("cannot open /dev/null: ") + std::strerror(errno));
  pid_t pid = fork();
  if (pid < 0) throw StartupError(std::string("cannot daemonize: ") + std::strerror(errno));
  if (pid > 0) _exit(0);
  if (setsid() < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
      dup2(out, STDERR_FILENO) < 0)
    throw StartupError(std::string("cannot daemonize: ") + std::strerror(errno));
  close(devnull);
  close(out);
}

int listen_backlog(const config::Config& cfg) {
  int somaxconn = net::kernel_somaxconn();
  if (!cfg.was_set("listen")) return somaxconn > 0 ? std::min(1024, somaxconn) : 1024;
  long long wanted = cfg.integer("listen", 1024);
  if (wanted <= 0) throw StartupError("--listen must be positive");
  if (somaxconn > 0 && wanted > somaxconn)
    throw StartupError("--listen " + std::to_string(wanted) + " is above the kernel's limit net.core.somaxconn = " +
                       std::to_string(somaxconn) + ": raise it with sysctl or lower --listen");
  return static_cast<int>(wanted);
}

// An integer option within [0, max]: a larger value is refused, never
// truncated (--processes 4294967298 must not quietly mean 2).
// Seconds that become milliseconds in an int somewhere: a day is plenty.
constexpr long long kMaxSeconds = 86400;
// Worker processes or threads: far more than any machine serves well, small
// enough for the shared scoreboard.
constexpr long long kMaxWorkers = 4096;

int positive(const config::Config& cfg, const char* name, long long fallback, long long max = kMaxSeconds) {
  long long v = cfg.integer(name, fallback);
  if (v < 0) throw StartupError(std::string("--") + name + " must not be negative");
  if (v > max) throw StartupError(std::string("--") + name + " " + std::to_string(v) + " is too large (at most " +
                                  std::to_string(max) + ")");
  return static_cast<int>(v);
}

}  // namespace

int run_server(int argc, char** argv) {
  log::init_early();
  signal(SIGPIPE, SIG_IGN);
  try {
    Configured c = configure(argc, argv);
    const config::Config& cfg = c.config;
    if (c.bootstrap.version) {
      std::printf("trellis %s (plugin ABI %u.%u, %s)\n", TRELLIS_VERSION, TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR,
                  TRELLIS_TOOLCHAIN_FINGERPRINT);
      return 0;
    }
    if (c.bootstrap.help) {
      std::cout << config::help_text(c.options);
      return 0;
    }
    if (cfg.flag("show-config")) {
      // What was dropped matters as much as what was kept.
      for (auto& w : cfg.warnings()) std::fprintf(stderr, "trellis: warning: %s\n", w.c_str());
      print_config(c);
      return 0;
    }
    for (auto& w : cfg.warnings()) spdlog::warn("{}", w);
    // --env KEY=VALUE (uWSGI's env =): set here, inherited by every process.
    for (auto& kv : cfg.values("env")) {
      auto eq = kv.find('=');
      if (eq == 0 || eq == std::string::npos)
        throw StartupError("invalid --env '" + kv + "': expected KEY=VALUE");
      setenv(kv.substr(0, eq).c_str(), kv.substr(eq + 1).c_str(), 1);
    }
    if (auto d = cfg.get("daemonize")) daemonize(*d);
    // The --daemonize file is the log file unless --logto names another;
    // either way SIGUSR1 reopens it.
    log::configure(cfg.get("logto").value_or(cfg.get("daemonize").value_or("")),
                   cfg.get("log-level").value_or("info"));
    log::set_process_label("master");
    // Compiled once here; every worker inherits it across fork.
    configure_request_log(cfg.get("log-format").value_or(""));

    ServerState state;
    state.config = &cfg;
    state.context.option_values = [&cfg](std::string_view name) { return cfg.values(name); };
    state.context.identity.processes = positive(cfg, "processes", 1, kMaxWorkers);
    state.context.identity.threads = std::max(1, positive(cfg, "threads", 1, kMaxWorkers));
    // Checked here, where a bad value stops the start; workers read them.
    for (const char* timeout : {"header-timeout", "keepalive-timeout", "socket-timeout"}) positive(cfg, timeout, 0);
    state.context.identity.pid = getpid();
    if (state.context.identity.processes < 1) throw StartupError("--processes must be at least 1");

    // The lock engines come with --lock-engine / --thunder-lock.
    std::string engine = cfg.get("lock-engine").value_or(cfg.flag("thunder-lock") ? "pthread" : "");
    if (!engine.empty()) c.loader->load("lock_engines");
    // uWSGI's `protocol = http`: the addresses of its generic --socket
    // option speak another protocol than the plugin that declares it (the
    // one named is loaded for that).
    std::string socket_protocol = cfg.get("protocol").value_or("");
    if (!socket_protocol.empty()) c.loader->load(socket_protocol);

    for (auto& r : c.loader->loaded()) c.loader->create(r, state.context);
    if (c.bootstrap.plugins_list) {
      print_plugins(*c.loader);
      return 0;
    }
    for (auto& r : c.loader->loaded()) {
      void* runtime_self = nullptr;
      if (const trellis_runtime_table* rt = r.instance.runtime(&runtime_self)) {
        if (!rt->on_request || !rt->load_application)
          throw StartupError("plugin '" + r.name + "' offers a runtime without on_request or load_application");
        state.runtimes.runtimes.push_back({rt, runtime_self, r.name});
        state.context.runtime_names.insert(r.name);
      }
    }
    for (auto& r : c.loader->loaded()) {
      if (r.instance.on_config() != TRELLIS_OK)
        throw StartupError("plugin '" + r.name + "' rejected the configuration (see the messages above)");
      state.plugins.push_back(r.instance);
    }
    for (auto& m : cfg.values("static-map")) state.static_maps.push_back(parse_static_map(m));
    if (state.runtimes.runtimes.empty())
      throw StartupError("no application runtime plugin is loaded: add --plugin python");

    // Sockets, before privileges are dropped.
    net::BindOptions bind;
    bind.backlog = listen_backlog(cfg);
    bind.chmod = cfg.get("chmod-socket").value_or("");
    bind.reuse_port = cfg.flag("reuse-port");
    bind.defer_accept = !cfg.flag("no-defer-accept");
    std::vector<std::string> vacuum;
    // --reuse-port: one socket per worker slot, kept by the master, so the
    // connections queued on a slot wait for that slot's next worker.
    int reuse_slots = bind.reuse_port ? state.context.identity.processes : 0;
    state.slot_listeners.resize(static_cast<size_t>(reuse_slots));
    struct ProtocolRef {
      const trellis_protocol_table* table = nullptr;
      void* self = nullptr;
    };
    ProtocolRef socket_override;
    if (!socket_protocol.empty()) {
      for (auto& r : c.loader->loaded())
        if (r.name == canonical_plugin_name(socket_protocol))
          socket_override.table = r.instance.protocol(&socket_override.self);
      if (!socket_override.table)
        throw StartupError("--protocol " + socket_protocol + ": that plugin speaks no protocol");
    }
    for (auto& r : c.loader->loaded()) {
      ProtocolRef own;
      own.table = r.instance.protocol(&own.self);
      if (!own.table) continue;
      if (!own.table->open_session || !own.table->socket_option || !own.table->name)
        throw StartupError("plugin '" + r.name + "' offers a protocol without a socket option or sessions");
      std::string_view option = own.table->socket_option;
      ProtocolRef proto = option == kGenericSocketOption && socket_override.table ? socket_override : own;
      for (auto& text : cfg.values(option)) {
        net::Address address = net::parse_address(text);
        auto sock = std::make_unique<net::ListenSocket>(net::bind_listener(address, bind));
        if (cfg.flag("vacuum") && sock->address.kind == net::Address::Kind::unix_path)
          vacuum.push_back(sock->address.path);
        state.listeners.push_back({sock.get(), proto.table, proto.self});
        for (int slot = 0; slot < reuse_slots; ++slot) {
          if (slot == 0 || address.is_unix()) {
            state.slot_listeners[static_cast<size_t>(slot)].push_back({sock.get(), proto.table, proto.self});
            continue;
          }
          net::Address same = address;
          same.port = sock->local_port;  // ":0" must give every slot the same port
          auto extra = std::make_unique<net::ListenSocket>(net::bind_listener(same, bind));
          extra->address.text = sock->address.text;
          state.slot_listeners[static_cast<size_t>(slot)].push_back({extra.get(), proto.table, proto.self});
          state.sockets.push_back(std::move(extra));
        }
        state.sockets.push_back(std::move(sock));
      }
    }
    if (state.listeners.empty())
      throw StartupError(
          "no sockets to serve: add --http-socket ADDR (plugin http) or --socket ADDR (plugin uwsgi)");
    std::unique_ptr<StatsServer> stats;
    if (auto addr = cfg.get("stats")) {
      StatsSettings ss;
      ss.address = *addr;
      ss.http = cfg.flag("stats-http");
      for (auto& l : state.listeners) ss.sockets.push_back({l.socket, l.protocol->name});
      // uwsgitop shows each app's modifier1; a runtime here has a name.
      for (std::size_t i = 0; i < state.runtimes.runtimes.size(); ++i) ss.runtime_modifiers.push_back(0);
      try {
        stats = std::make_unique<StatsServer>(ss);
      } catch (const std::exception& e) {
        throw StartupError(std::string("--stats: ") + e.what());
      }
      if (cfg.flag("vacuum") && stats->socket().address.kind == net::Address::Kind::unix_path)
        vacuum.push_back(stats->socket().address.path);
    } else if (cfg.flag("stats-http")) {
      spdlog::warn("--stats-http has no effect without --stats ADDR");
    }
    // Like the sockets, the pidfile is written while still privileged.
    if (auto pidfile = cfg.get("pidfile")) {
      std::ofstream pf(*pidfile);
      pf << getpid() << "\n";
      if (!pf) throw StartupError("cannot write --pidfile " + *pidfile);
    }
    drop_privileges(cfg);

    if (!engine.empty()) {
      for (auto& r : c.loader->loaded()) {
        state.lock_engine.table = r.instance.lock_engine(engine.c_str(), &state.lock_engine.self);
        if (state.lock_engine) break;
      }
      if (!state.lock_engine)
        throw StartupError("unknown lock engine '" + engine + "': use pthread, flock, sem or none");
      if (!state.lock_engine.table->lock || !state.lock_engine.table->unlock ||
          (state.lock_engine.table->init_master &&
           state.lock_engine.table->init_master(state.lock_engine.self) != TRELLIS_OK))
        throw StartupError("lock engine '" + engine + "' failed to initialise (see above)");
    }

    int capacity = state.context.identity.processes * 2 + 16;
    Scoreboard scoreboard(capacity, state.context.identity.threads);
    state.scoreboard = &scoreboard;
    if (stats) stats->attach(scoreboard);

    MasterSettings ms;
    ms.processes = state.context.identity.processes;
    ms.min_processes = std::max<int>(1, static_cast<int>(state.slot_listeners.size()));
    ms.harakiri_s = positive(cfg, "harakiri", 0);
    ms.worker_reload_mercy_s = positive(cfg, "worker-reload-mercy", 60);
    ms.pidfile = cfg.get("pidfile").value_or("");
    ms.vacuum_paths = vacuum;
    ms.touch_reload = cfg.get("touch-reload").value_or("");
    ms.touch_chain_reload = cfg.get("touch-chain-reload").value_or("");

    std::string plugin_names, socket_names;
    for (auto& r : c.loader->loaded()) plugin_names += (plugin_names.empty() ? "" : ", ") + r.name;
    for (auto& s : state.sockets)
      socket_names += (socket_names.empty() ? "" : ", ") + s->address.text + " (" +
                      (s->address.is_unix() ? s->address.path : s->local_host + ":" + s->local_port) + ")";
    spdlog::info("trellis {} starting: master pid {}, plugins [{}], sockets [{}], {} workers x {} threads{}",
                 TRELLIS_VERSION, getpid(), plugin_names, socket_names, ms.processes,
                 state.context.identity.threads, engine.empty() ? "" : ", accept lock " + engine);

    MasterHooks hooks;
    hooks.worker_died = [&state](pid_t pid) {
      if (state.lock_engine && state.lock_engine.table->holder_died)
        state.lock_engine.table->holder_died(state.lock_engine.self, pid);
    };
    auto before_fork = [&state] {
      for (auto& p : state.plugins) p.before_fork();
    };
    WorkerBody body = [&state](int id, int slot, std::uint64_t generation, bool load) {
      state.context.forked = true;
      return worker_main(state, id, slot, generation, load);
    };
    pid_t master_pid = getpid();
    // A forked child must not hold the stats sockets: a stats client would
    // wait for the child's copy of its connection to close.
    StatsServer* stats_ptr = stats.get();
    auto in_child = [master_pid, stats_ptr] {
      if (stats_ptr) stats_ptr->close_in_child();
      attach_to_master(master_pid);
    };
    auto after_fork_parent = [&state] {
      for (auto& p : state.plugins) p.after_fork_parent();
    };
    std::unique_ptr<Spawner> spawner;
    if (cfg.flag("lazy-apps")) {
      spawner = std::make_unique<DirectSpawner>(before_fork, after_fork_parent, body, in_child);
    } else {
      LoaderHooks lh;
      lh.before_fork = before_fork;
      lh.after_fork_parent = after_fork_parent;
      lh.load_application = [&state] {
        state.context.forked = true;
        for (auto& r : state.runtimes.runtimes)
          if (r.table->load_application(r.self) != TRELLIS_OK) return false;
        return true;
      };
      lh.in_loader = [master_pid, stats_ptr] {
        if (stats_ptr) stats_ptr->close_in_child();
        attach_to_master(master_pid);
        become_loader();
      };
      spawner = std::make_unique<LoaderSpawner>(lh, body, in_child);
    }
    Master master(ms, hooks, scoreboard, *spawner);
    std::unique_ptr<MasterFifo> fifo;
    if (auto path = cfg.get("master-fifo")) {
      fifo = std::make_unique<MasterFifo>(*path);
      master.add_service(fifo.get());
    }
    if (stats) {
      master.add_service(stats.get());
      spdlog::info("stats server on {}{}", stats->socket().address.text, cfg.flag("stats-http") ? " (HTTP)" : "");
    }
    return master.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trellis: error: %s\n", e.what());
    return 1;
  }
}

}  // namespace trellis::core
