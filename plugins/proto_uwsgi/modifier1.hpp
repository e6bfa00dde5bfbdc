// uwsgi's modifier1 (the packet header's first byte) picks the runtime that
// serves a request. SDK 2 names runtimes instead of numbering them, so the
// number stays in this plugin: it maps to the runtime plugin's name here, and
// the core never hears of modifier1.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace trellis::uwsgi {

// uWSGI's legacy "manage PATH_INFO" modifier (UWSGI_MODIFIER_MANAGE_PATH_INFO,
// nginx `uwsgi_modifier1 30;`): a WSGI request whose PATH_INFO still carries
// the SCRIPT_NAME prefix. It has no runtime of its own: the default one
// serves it, after the mapper strips the prefix.
inline constexpr std::uint8_t kModifierManagePathInfo = 30;

// The runtime, by name, that serves a packet sent with modifier1 `m`: "" (the
// default runtime) for 0 (WSGI) and 30; for the other numbers of uWSGI's
// registry that carry an HTTP request, the name of the uWSGI plugin that
// serves it, so that a trellis runtime of that name takes its place.
// nullopt for every other number (management, spooler, RPC, ping ...):
// nothing here could answer those.
constexpr std::optional<std::string_view> runtime_for_modifier(std::uint8_t m) noexcept {
  switch (m) {
    case 0: return std::string_view();
    case kModifierManagePathInfo: return std::string_view();
    case 5: return std::string_view("psgi");
    case 6: return std::string_view("lua");
    case 7: return std::string_view("rack");
    case 8: return std::string_view("jvm");  // JWSGI and Ring both go through it
    case 9: return std::string_view("cgi");
    case 11: return std::string_view("gccgo");
    case 14: return std::string_view("php");
    case 15: return std::string_view("mono");
    case 18: return std::string_view("symcall");
    case 19: return std::string_view("ssi");
    case 23: return std::string_view("xslt");
    case 24: return std::string_view("v8");
    case 25: return std::string_view("gridfs");
    case 27: return std::string_view("glusterfs");
    case 28: return std::string_view("rados");
    case 35: return std::string_view("webdav");
    default: return std::nullopt;
  }
}

}  // namespace trellis::uwsgi
