#include "config/ini_reader.hpp"

#include "config/config.hpp"
#include "config/text.hpp"

#include <chrono>
#include <fstream>
#include <map>
#include <system_error>
#include <thread>

#include <unistd.h>

namespace trellis::config {

namespace fs = std::filesystem;

namespace {

ConfigError file_error(const std::string& message) { return ConfigError(ConfigError::Kind::file, message); }

ConfigError syntax_error(const std::string& origin, const std::string& message) {
  ConfigError error(ConfigError::Kind::syntax, origin + ": " + message);
  error.origin = origin;
  return error;
}

struct Target {
  fs::path path;  // absolute, normalised
  std::string as_given;
  std::optional<std::string> section;
};

// "FILE:SECTION" is ambiguous with a path containing ':', so an existing file
// wins; otherwise the text after the last ':' is the section, unless it
// looks like a path.
Target split_spec(std::string_view spec, const fs::path& base_dir) {
  auto absolute = [&](std::string_view p) {
    fs::path path(p);
    if (path.is_relative()) path = (base_dir.empty() ? fs::current_path() : base_dir) / path;
    return path.lexically_normal();
  };
  Target target{absolute(spec), std::string(spec), std::nullopt};
  std::error_code ec;
  const auto colon = spec.rfind(':');
  if (colon != std::string_view::npos && !fs::is_regular_file(target.path, ec) &&
      spec.find('/', colon) == std::string_view::npos && colon > 0) {
    target.path = absolute(spec.substr(0, colon));
    target.as_given = std::string(spec.substr(0, colon));
    target.section = std::string(spec.substr(colon + 1));
  }
  return target;
}

std::vector<std::string> read_lines(const Target& target) {
  std::error_code ec;
  const auto status = fs::status(target.path, ec);
  if (!fs::exists(status)) throw file_error("ini file '" + target.path.string() + "' not found");
  if (fs::is_directory(status)) throw file_error("ini file '" + target.path.string() + "' is a directory");
  std::ifstream in(target.path, std::ios::binary);
  if (!in) throw file_error("cannot read ini file '" + target.path.string() + "'");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(std::move(line));
  if (!lines.empty() && lines.front().starts_with("\xEF\xBB\xBF")) lines.front().erase(0, 3);  // UTF-8 BOM
  return lines;
}

// Section name of a "[name]" line, nullopt if the line is not a header.
std::optional<std::string> section_header(std::string_view line, const std::string& origin) {
  if (!line.starts_with('[')) return std::nullopt;
  if (!line.ends_with(']')) throw syntax_error(origin, "malformed section header '" + std::string(line) + "'");
  return std::string(text::trim(line.substr(1, line.size() - 2)));
}

class Reader {
 public:
  explicit Reader(IniResult& out) : out_(out) {}

  void read(std::string_view spec, const fs::path& base_dir) {
    const Target target = split_spec(spec, base_dir);
    std::error_code ec;
    const fs::path identity = fs::weakly_canonical(target.path, ec);
    for (const auto& open : stack_)
      if (open == identity) {
        std::string chain;
        for (const auto& p : stack_) chain += p.string() + " -> ";
        throw file_error("ini include loop: " + chain + identity.string());
      }
    const auto lines = read_lines(target);
    const std::string file = target.path.string();
    out_.files.push_back(file);

    const std::string section = choose_section(target, lines);
    const MagicContext magic{target.path, target.as_given, section,
                             [this](std::string_view name) { return placeholder(name); }};
    stack_.push_back(identity);
    std::string current;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const std::string origin = file + ":" + std::to_string(i + 1);
      const auto line = text::trim(lines[i]);
      if (line.empty() || line.front() == ';' || line.front() == '#') continue;
      if (auto header = section_header(line, origin)) {
        current = *header;
        continue;
      }
      // Only the chosen section is ours: other sections may belong to other
      // tools with other syntax, so they are not checked.
      if (current != section) continue;
      entry(line, origin, magic, section == "uwsgi");
    }
    stack_.pop_back();
  }

 private:
  std::string choose_section(const Target& target, const std::vector<std::string>& lines) {
    bool has_trellis = false, has_uwsgi = false, has_wanted = false;
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const auto header = section_header(text::trim(lines[i]), target.path.string() + ":" + std::to_string(i + 1));
      if (!header) continue;
      has_trellis |= *header == "trellis";
      has_uwsgi |= *header == "uwsgi";
      has_wanted |= target.section && *header == *target.section;
    }
    if (target.section) {
      if (!has_wanted)
        throw file_error("section [" + *target.section + "] not found in ini file '" + target.path.string() + "'");
      return *target.section;
    }
    if (has_trellis) return "trellis";
    if (has_uwsgi) return "uwsgi";
    throw file_error("no [trellis] or [uwsgi] section in ini file '" + target.path.string() + "'");
  }

  void entry(std::string_view line, const std::string& origin, const MagicContext& magic, bool uwsgi) {
    const auto equals = line.find('=');
    const auto key = text::trim(line.substr(0, equals));
    if (key.empty()) throw syntax_error(origin, "missing option name before '='");
    if (text::has_space(key))
      throw syntax_error(origin, "expected 'key = value', got '" + std::string(line) + "'");
    std::optional<std::string> value;
    if (equals != std::string_view::npos) value = expand_magic(text::trim(line.substr(equals + 1)), magic);
    if (key == "ini") {
      if (!value || value->empty()) throw syntax_error(origin, "'ini' needs a file name");
      read(*value, magic.path.parent_path());
      return;
    }
    defined_[std::string(key)] = out_.entries.size();
    out_.entries.push_back(IniEntry{std::string(key), std::move(value), origin, uwsgi});
  }

  // %(name): the latest value of `name` read so far; that entry is marked
  // as used, so phase 2 does not report it when it is not an option.
  std::optional<std::string> placeholder(std::string_view name) {
    const auto it = defined_.find(name);
    if (it == defined_.end()) return std::nullopt;
    IniEntry& entry = out_.entries[it->second];
    if (!entry.value) return std::nullopt;  // a bare "key" line has no value to give
    entry.placeholder = true;
    return entry.value;
  }

  IniResult& out_;
  std::vector<fs::path> stack_;  // files being read, for loop detection
  std::map<std::string, std::size_t, std::less<>> defined_;  // key -> index of its latest entry in out_
};

std::string cpu_count() {
  long n = ::sysconf(_SC_NPROCESSORS_ONLN);  // what uWSGI uses for %k
  if (n < 1) n = static_cast<long>(std::thread::hardware_concurrency());
  return std::to_string(n < 1 ? 1 : n);
}

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return {};
  return name;
}

template <typename Duration>
std::string unix_time() {
  return std::to_string(
      std::chrono::duration_cast<Duration>(std::chrono::system_clock::now().time_since_epoch()).count());
}

}  // namespace

void read_ini(std::string_view spec, const fs::path& base_dir, IniResult& out) {
  if (spec.empty()) throw file_error("empty ini file name");
  Reader(out).read(spec, base_dir);
}

std::string expand_magic(std::string_view value, const MagicContext& context) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '%' || i + 1 == value.size()) {
      out += value[i];
      continue;
    }
    const char code = value[++i];
    if (code == '(' && context.placeholder) {
      const auto close = value.find(')', i + 1);
      if (close != std::string_view::npos) {
        if (auto replacement = context.placeholder(value.substr(i + 1, close - i - 1))) {
          out += *replacement;
          i = close;
          continue;
        }
      }
      out += "%(";  // undefined or unterminated: kept, like uWSGI
      continue;
    }
    switch (code) {
      case 'd': out += context.path.parent_path().string(); if (!out.ends_with('/')) out += '/'; break;
      case 'p': out += context.path.string(); break;
      case 's': out += context.path.filename().string(); break;
      case 'n': out += context.path.stem().string(); break;
      case 'c': out += context.path.parent_path().filename().string(); break;
      case 'o': out += context.as_given; break;
      case 'e': {  // uWSGI: what follows the last '.' of the file name as given
        const auto dot = context.as_given.rfind('.');
        const auto slash = context.as_given.rfind('/');
        if (dot != std::string::npos && (slash == std::string::npos || dot > slash)) out += context.as_given.substr(dot + 1);
        break;
      }
      case 'x': out += context.path.filename().string() + ":" + context.section; break;
      case 'k': out += cpu_count(); break;
      case 'h': out += host_name(); break;
      case 't': out += unix_time<std::chrono::seconds>(); break;
      case 'T': out += unix_time<std::chrono::microseconds>(); break;
      case 'u': out += std::to_string(::getuid()); break;
      case 'g': out += std::to_string(::getgid()); break;
      case '%': out += '%'; break;
      default: out += '%'; out += code; break;
    }
  }
  return out;
}

}  // namespace trellis::config
