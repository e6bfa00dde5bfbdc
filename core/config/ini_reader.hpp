// uWSGI-compatible ini files: section [trellis] (else [uwsgi]), `key = value`,
// `;`/`#` comments, magic variables, `ini = other.ini` includes.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::config {

struct IniEntry {
  std::string key;
  std::optional<std::string> value;  // nullopt for a bare "key" line (a flag)
  std::string origin;                // "/abs/app.ini:12"
  bool uwsgi_section = false;
  bool placeholder = false;          // its value was used by a later %(key) (see Setting)
};

struct IniResult {
  std::vector<IniEntry> entries;  // in reading order, includes inlined where they appear
  std::vector<std::string> files; // absolute paths, in the order they were opened
};

// Reads `spec` ("FILE" or "FILE:SECTION"; FILE relative to `base_dir`, or to
// the current directory when base_dir is empty) and appends to `out`.
// `ini = ...` keys are followed (relative to the including file) rather than
// returned. `%(key)` placeholders see every key read before them by this
// call (the file and its includes, in reading order; the latest value wins). Throws ConfigError naming file (and line) for a missing file or
// section, a malformed line or an include loop.
void read_ini(std::string_view spec, const std::filesystem::path& base_dir, IniResult& out);

// Magic variables of one file (uWSGI's names):
//   %d directory with trailing slash  %p absolute path  %s file name
//   %n file name without extension    %c name of the directory
//   %e extension (without the dot)    %o path as given
//   %x "file name:section"            %% a '%'
// and of the machine: %k number of online CPUs, %h host name, %t unix time
// in seconds, %T in microseconds, %u uid, %g gid.
// %(name) is the value of an earlier key `name` (through `placeholder`).
// Expansion is one left-to-right pass: an expanded value is not expanded
// again, so "%%(x)" is the literal text "%(x)". Unknown %X sequences, an
// unterminated "%(" and a %(name) nobody defined are kept as they are, like
// uWSGI does (it has no error for them either).
struct MagicContext {
  std::filesystem::path path;  // absolute
  std::string as_given;
  std::string section;
  // Value of the placeholder `name`, or nullopt if undefined. Empty: no
  // placeholders are expanded.
  std::function<std::optional<std::string>(std::string_view name)> placeholder;
};
std::string expand_magic(std::string_view value, const MagicContext& context);

}  // namespace trellis::config
