// The C++ classes of plugin.hpp as the C tables of abi.h. Compiled into the
// plugin (header only), so the core calls plain C functions and never a
// vtable made by another compiler. Not for plugin authors to use directly.
#pragma once

#include <cstddef>
#include <exception>
#include <new>
#include <string_view>

#include "trellis/abi.h"
#include "trellis/host.hpp"
#include "trellis/lock_engine.hpp"
#include "trellis/protocol.hpp"
#include "trellis/runtime.hpp"
#include "trellis/status.hpp"
#include "trellis/stream.hpp"

namespace trellis::sdk::detail {

template <std::size_t N>
constexpr std::size_t option_count(const trellis_option_spec (&)[N]) noexcept { return N; }
constexpr std::size_t option_count(std::nullptr_t) noexcept { return 0; }

inline const trellis_session_table* session_table() noexcept {
  static const trellis_session_table table = {
      sizeof(trellis_session_table),
      [](void* self) noexcept {
        std::span<char> s = static_cast<Session*>(self)->read_space();
        return trellis_str{s.data(), s.size()};
      },
      [](void* self, size_t n) noexcept { static_cast<Session*>(self)->on_received(n); },
      [](void* self) noexcept { static_cast<Session*>(self)->on_eof(); },
      [](void* self) noexcept { static_cast<Session*>(self)->on_writable(); },
      [](void* self) noexcept { static_cast<Session*>(self)->on_drain(); },
      [](void* self) noexcept { return static_cast<uint32_t>(static_cast<Session*>(self)->phase()); },
      [](void* self) noexcept { static_cast<Session*>(self)->release(); },
  };
  return &table;
}

struct ProtocolBridge {
  trellis_protocol_table table{};
  Protocol* protocol = nullptr;
  const trellis_host_api* api = nullptr;

  void make(Protocol* p, const trellis_host_api* a) noexcept {
    protocol = p;
    api = a;
    table.size = sizeof table;
    table.name = p->name();
    table.socket_option = p->socket_option();
    table.open_session = [](void* self, trellis_conn* conn, void** session_self) noexcept
        -> const trellis_session_table* {
      auto* b = static_cast<ProtocolBridge*>(self);
      Session* s = b->protocol->open_session(Connection(b->api, conn));
      if (!s) return nullptr;
      *session_self = s;
      return session_table();
    };
    table.check_head = [](void* self, const trellis_response_head* head, const char** reason) noexcept {
      const char* why = nullptr;
      Status st = static_cast<ProtocolBridge*>(self)->protocol->check_head(ResponseHead::from(head), why);
      if (reason) *reason = why;
      return to_c(st);
    };
  }
};

struct RuntimeBridge {
  trellis_runtime_table table{};
  Runtime* runtime = nullptr;
  const trellis_host_api* api = nullptr;

  void make(Runtime* r, const trellis_host_api* a) noexcept {
    runtime = r;
    api = a;
    table.size = sizeof table;
    table.flags = r->blocking() ? static_cast<uint32_t>(TRELLIS_RUNTIME_BLOCKING) : 0u;
    table.load_application = [](void* self) noexcept {
      return to_c(static_cast<RuntimeBridge*>(self)->runtime->load_application());
    };
    table.loop_start = [](void* self) noexcept { return to_c(static_cast<RuntimeBridge*>(self)->runtime->loop_start()); };
    table.thread_start = [](void* self, int32_t thread) noexcept {
      return to_c(static_cast<RuntimeBridge*>(self)->runtime->thread_start(thread));
    };
    table.thread_stop = [](void* self, int32_t thread) noexcept {
      static_cast<RuntimeBridge*>(self)->runtime->thread_stop(thread);
    };
    table.on_request = [](void* self, trellis_stream* stream, int32_t thread) noexcept {
      auto* b = static_cast<RuntimeBridge*>(self);
      return to_c(b->runtime->on_request(Stream(b->api, stream), thread));
    };
    table.on_event = [](void* self, trellis_stream* stream, const trellis_event* event) noexcept {
      auto* b = static_cast<RuntimeBridge*>(self);
      b->runtime->on_event(Stream(b->api, stream), Event::from(event));
    };
    table.on_drain = [](void* self) noexcept { static_cast<RuntimeBridge*>(self)->runtime->on_drain(); };
    if (r->drives_loop())
      table.run_loop = [](void* self) noexcept { return to_c(static_cast<RuntimeBridge*>(self)->runtime->run_loop()); };
  }
};

struct LockEngineBridge {
  trellis_lock_engine_table table{};
  LockEngine* engine = nullptr;

  void make(LockEngine* e) noexcept {
    engine = e;
    table.size = sizeof table;
    table.name = e->name();
    table.init_master = [](void* self) noexcept {
      return to_c(static_cast<LockEngineBridge*>(self)->engine->init_master());
    };
    table.init_child = [](void* self) noexcept { return to_c(static_cast<LockEngineBridge*>(self)->engine->init_child()); };
    table.lock = [](void* self) noexcept { return to_c(static_cast<LockEngineBridge*>(self)->engine->lock()); };
    table.unlock = [](void* self) noexcept { static_cast<LockEngineBridge*>(self)->engine->unlock(); };
    table.holder_died = [](void* self, int32_t pid) noexcept {
      static_cast<LockEngineBridge*>(self)->engine->holder_died(pid);
    };
  }
};

// One per plugin, never freed (plugins are never unloaded).
struct PluginBridge {
  static constexpr std::size_t kMaxLockEngines = 8;

  trellis_plugin_table table{};
  Plugin* plugin = nullptr;
  const trellis_host_api* api = nullptr;
  RuntimeBridge runtime;
  ProtocolBridge protocol;
  LockEngineBridge engines[kMaxLockEngines];
  std::size_t engine_count = 0;

  void make(Plugin* p, const trellis_host_api* a) noexcept {
    plugin = p;
    api = a;
    if (Runtime* r = p->runtime()) runtime.make(r, a);
    if (Protocol* pr = p->protocol()) protocol.make(pr, a);
    table.size = sizeof table;
    table.on_config = [](void* self) noexcept { return to_c(of(self)->plugin->on_config()); };
    table.before_fork = [](void* self) noexcept { return to_c(of(self)->plugin->before_fork()); };
    table.after_fork_parent = [](void* self) noexcept { return to_c(of(self)->plugin->after_fork_parent()); };
    table.after_fork_child = [](void* self, const trellis_worker_identity* w) noexcept {
      WorkerIdentity id;
      if (w) id = {w->id, w->generation, w->pid, w->threads, w->processes};
      return to_c(of(self)->plugin->after_fork_child(id));
    };
    table.worker_shutdown = [](void* self) noexcept { of(self)->plugin->worker_shutdown(); };
    table.runtime = [](void* self, void** runtime_self) noexcept -> const trellis_runtime_table* {
      PluginBridge* b = of(self);
      if (!b->runtime.runtime) return nullptr;
      *runtime_self = &b->runtime;
      return &b->runtime.table;
    };
    table.protocol = [](void* self, void** protocol_self) noexcept -> const trellis_protocol_table* {
      PluginBridge* b = of(self);
      if (!b->protocol.protocol) return nullptr;
      *protocol_self = &b->protocol;
      return &b->protocol.table;
    };
    table.lock_engine = [](void* self, const char* name, void** engine_self) noexcept
        -> const trellis_lock_engine_table* {
      PluginBridge* b = of(self);
      std::string_view wanted = name ? name : "";
      for (std::size_t i = 0; i < b->engine_count; ++i)
        if (wanted == b->engines[i].engine->name()) {
          *engine_self = &b->engines[i];
          return &b->engines[i].table;
        }
      LockEngine* e = b->plugin->lock_engine(wanted);
      if (!e || b->engine_count == kMaxLockEngines) return nullptr;
      LockEngineBridge& slot = b->engines[b->engine_count++];
      slot.make(e);
      *engine_self = &slot;
      return &slot.table;
    };
  }

  static PluginBridge* of(void* self) noexcept { return static_cast<PluginBridge*>(self); }
};

// The descriptor's create(): runs the plugin's factory; no exception
// crosses the boundary.
template <typename Factory>
trellis_status create_plugin(Host& host, trellis_plugin_instance* out, Factory factory) noexcept {
  // Checked first: nothing is built that could not be handed over.
  if (!out || out->size < sizeof(trellis_plugin_instance)) return TRELLIS_INTERNAL_ERROR;
  Plugin* plugin = nullptr;
  try {
    plugin = factory(host);
  } catch (const std::exception& e) {
    host.logf(LogLevel::error, "plugin constructor threw an exception: %s", e.what());
    return TRELLIS_INTERNAL_ERROR;
  } catch (...) {
    host.log(LogLevel::error, "plugin constructor threw an exception");
    return TRELLIS_INTERNAL_ERROR;
  }
  if (!plugin) return TRELLIS_INTERNAL_ERROR;
  auto* bridge = new (std::nothrow) PluginBridge();
  if (!bridge) return TRELLIS_INTERNAL_ERROR;
  bridge->make(plugin, host.api());
  out->table = &bridge->table;
  out->self = bridge;
  return TRELLIS_OK;
}

}  // namespace trellis::sdk::detail
