#include "plugins/plugin_loader.hpp"

#include <boost/dll/runtime_symbol_info.hpp>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <set>

#include "plugins/plugin_paths.hpp"

namespace fs = std::filesystem;

namespace trellis::core {

namespace {

std::string file_name_for(const std::string& name) { return name + "_plugin.so"; }

bool looks_like_path(const std::string& request) {
  return request.find('/') != std::string::npos || request.ends_with(".so");
}

std::string abi_text(uint32_t major, uint32_t minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

// Debian packages ship each optional plugin separately.
std::string package_hint(const std::string& name) {
  static const std::set<std::string> packaged = {"python", "http", "uwsgi", "lock_engines"};
  if (!packaged.count(name)) return "";
  std::string pkg = name;
  for (auto& c : pkg)
    if (c == '_') c = '-';
  return "; install the package trellis-plugin-" + pkg + " or pass --plugin-dir";
}

}  // namespace

std::string canonical_plugin_name(const std::string& request) {
  static const std::pair<const char*, const char*> aliases[] = {
      {"proto_http", "http"}, {"http11", "http"}, {"proto_uwsgi", "uwsgi"},
      {"router_http", "http"}, {"corerouter", "http"},
  };
  for (auto& [from, to] : aliases)
    if (request == from) return to;
  // uWSGI ini files name versioned Python plugins: python3, python39,
  // python311, python3.11 ... all mean the one Python plugin here.
  if (request.starts_with("python") &&
      request.find_first_not_of("0123456789.", 6) == std::string::npos)
    return "python";
  return request;
}

std::vector<fs::path> plugin_search_dirs(const std::vector<std::string>& cli_dirs) {
  std::vector<fs::path> dirs;
  auto add = [&](const fs::path& d) {
    if (d.empty()) return;
    for (auto& existing : dirs)
      if (existing == d) return;
    dirs.push_back(d);
  };
  std::error_code ec;
  fs::path exe_dir = boost::dll::program_location(ec).parent_path();
  if (!ec) {
    add((exe_dir / ".." / "lib/trellis/plugins").lexically_normal());
    add((exe_dir / ".." / TRELLIS_INSTALL_LIBDIR / "trellis/plugins").lexically_normal());
  }
  for (auto& d : cli_dirs) add(d);
  if (const char* env = std::getenv("TRELLIS_PLUGIN_DIR")) {
    std::string all = env;
    size_t start = 0;
    while (start <= all.size()) {
      size_t end = all.find(':', start);
      if (end == std::string::npos) end = all.size();
      add(all.substr(start, end - start));
      start = end + 1;
    }
  }
  return dirs;
}

PluginLoader::PluginLoader(std::vector<fs::path> search_dirs) : dirs_(std::move(search_dirs)) {}

fs::path PluginLoader::locate(const std::string& name) const {
  std::string searched;
  for (auto& dir : dirs_) {
    fs::path candidate = dir / file_name_for(name);
    std::error_code ec;
    if (fs::is_regular_file(candidate, ec)) return candidate;
    searched += (searched.empty() ? "" : ", ") + candidate.string();
  }
  if (searched.empty()) searched = "no plugin directories";
  throw LoadError("plugin '" + name + "' not found (searched: " + searched + ")" + package_hint(name));
}

const trellis_plugin_descriptor* checked_descriptor(boost::dll::shared_library& library, const fs::path& path) {
  if (!library.has(TRELLIS_ENTRY_SYMBOL))
    throw LoadError(path.string() + " is not a trellis plugin: it exports no '" TRELLIS_ENTRY_SYMBOL "' entry");
  // A plain C function: nothing of the plugin's C++ runs before the checks.
  auto entry = library.get<const trellis_plugin_descriptor*()>(TRELLIS_ENTRY_SYMBOL);
  const trellis_plugin_descriptor* d = entry();
  if (!d || d->magic != TRELLIS_DESCRIPTOR_MAGIC)
    throw LoadError(path.string() + " is not a trellis plugin: its entry returned no valid descriptor");
  // The ABI major comes first: a plugin of another major may lay out
  // everything after it differently.
  if (d->size < offsetof(trellis_plugin_descriptor, abi_minor) + sizeof(d->abi_minor) ||
      d->abi_major != TRELLIS_ABI_MAJOR || d->abi_minor > TRELLIS_ABI_MINOR) {
    std::string theirs = d->size >= offsetof(trellis_plugin_descriptor, abi_minor) + sizeof(d->abi_minor)
                             ? abi_text(d->abi_major, d->abi_minor)
                             : std::to_string(d->abi_major) + ".?";
    throw LoadError(path.string() + " was built for plugin ABI " + theirs + ", but this trellis provides ABI " +
                    abi_text(TRELLIS_ABI_MAJOR, TRELLIS_ABI_MINOR) + ": rebuild it against this trellis SDK");
  }
  if (d->size < offsetof(trellis_plugin_descriptor, create) + sizeof(d->create) || !d->name || !*d->name ||
      !d->create)
    throw LoadError(path.string() + " is not a trellis plugin: its descriptor has no name or no create function");
  if (d->option_count && (!d->options || d->option_size < sizeof(trellis_option_spec)))
    throw LoadError("plugin '" + std::string(d->name) + "' (" + path.string() + ") declares options it does not describe");
  return d;
}

PluginRecord& PluginLoader::load(const std::string& request) {
  std::string name = canonical_plugin_name(request);
  fs::path path = looks_like_path(request) ? fs::path(request) : locate(name);
  std::error_code ec;
  fs::path canonical = fs::weakly_canonical(fs::absolute(path, ec), ec);
  if (ec) canonical = path;
  for (auto& r : loaded_)
    if (r.path == canonical || (!looks_like_path(request) && r.name == name)) return r;
  if (!fs::exists(canonical, ec)) throw LoadError("plugin file " + path.string() + " does not exist");

  PluginRecord record;
  record.path = canonical;
  try {
    record.library.load(canonical, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw LoadError("cannot load plugin " + canonical.string() + ": " + e.what());
  }
  record.descriptor = checked_descriptor(record.library, canonical);
  record.name = record.descriptor->name;
  for (auto& r : loaded_)
    if (r.name == record.name) return r;  // same plugin via another path: the first one stays
  loaded_.push_back(std::move(record));
  return loaded_.back();
}

void PluginLoader::create(PluginRecord& record, HostContext& context) {
  if (record.instance) return;
  record.host = std::make_unique<CoreHost>(context, record.name);
  trellis_plugin_instance made{};
  made.size = sizeof made;
  trellis_status st = record.descriptor->create(core_host_api(), record.host->handle(), &made);
  if (st != TRELLIS_OK || !made.table || made.table->size < sizeof(uint32_t))
    throw LoadError("plugin '" + record.name + "' (" + record.path.string() +
                    ") failed to initialise (see the messages above)");
  record.instance.table = made.table;
  record.instance.self = made.self;
}

std::vector<const PluginRecord*> PluginLoader::scan_available() {
  std::vector<const PluginRecord*> found;
  std::set<std::string> names;
  for (auto& r : loaded_) names.insert(r.name);
  for (auto& r : scanned_)
    if (names.insert(r.name).second) found.push_back(&r);
  for (auto& dir : dirs_) {
    std::error_code ec;
    for (auto& entry : fs::directory_iterator(dir, ec)) {
      auto file = entry.path().filename().string();
      if (!file.ends_with("_plugin.so")) continue;
      try {
        PluginRecord r;
        r.path = entry.path();
        r.library.load(r.path, boost::dll::load_mode::rtld_lazy | boost::dll::load_mode::rtld_local);
        r.descriptor = checked_descriptor(r.library, r.path);
        r.name = r.descriptor->name;
        if (names.count(r.name)) continue;
        names.insert(r.name);
        scanned_.push_back(std::move(r));
        found.push_back(&scanned_.back());
      } catch (...) {
        // Only a hint source: a broken file here is reported when loaded.
      }
    }
  }
  return found;
}

}  // namespace trellis::core
