// uWSGI-compatible ini files: section [trellis] (else [uwsgi]), `key = value`,
// `;`/`#` comments, magic variables, `ini = other.ini` includes.
#pragma once

#include <filesystem>
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
};

struct IniResult {
  std::vector<IniEntry> entries;  // in reading order, includes inlined where they appear
  std::vector<std::string> files; // absolute paths, in the order they were opened
};

// Reads `spec` ("FILE" or "FILE:SECTION"; FILE relative to `base_dir`, or to
// the current directory when base_dir is empty) and appends to `out`.
// `ini = ...` keys are followed (relative to the including file) rather than
// returned. Throws ConfigError naming file (and line) for a missing file or
// section, a malformed line or an include loop.
void read_ini(std::string_view spec, const std::filesystem::path& base_dir, IniResult& out);

// Magic variables of one file (uWSGI's names):
//   %d directory with trailing slash  %p absolute path  %s file name
//   %n file name without extension    %c name of the directory
//   %o path as given                  %x "file name:section"   %% a '%'
// Unknown %X sequences are kept as they are, like uWSGI does.
struct MagicContext {
  std::filesystem::path path;  // absolute
  std::string as_given;
  std::string section;
};
std::string expand_magic(std::string_view value, const MagicContext& context);

}  // namespace trellis::config
