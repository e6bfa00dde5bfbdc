#include "config/env_reader.hpp"

#include "config/catalog.hpp"

namespace trellis::config {

std::vector<Setting> read_environment(const std::map<std::string, std::string>& env,
                                      const std::set<std::string, std::less<>>& ignore) {
  static constexpr std::string_view prefix = "TRELLIS_";
  std::vector<Setting> out;
  for (const auto& [name, value] : env) {
    if (!name.starts_with(prefix) || ignore.contains(name)) continue;
    out.push_back(Setting{detail::key_from_env(std::string_view(name).substr(prefix.size())), value,
                          Source::environment, name});
  }
  return out;
}

}  // namespace trellis::config
