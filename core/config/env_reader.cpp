#include "config/env_reader.hpp"

#include "config/catalog.hpp"

namespace trellis::config {

std::vector<Setting> read_environment(const std::map<std::string, std::string>& env,
                                      const std::set<std::string, std::less<>>& ignore) {
  std::vector<Setting> out;
  // UWSGI_* first, so TRELLIS_* wins for the same option (last one wins).
  // Images built for uWSGI set UWSGI_PROCESSES and friends; like a [uwsgi]
  // section, what trellis lacks is reported, not fatal.
  for (const auto& [name, value] : env) {
    static constexpr std::string_view uwsgi = "UWSGI_";
    if (!name.starts_with(uwsgi)) continue;
    Setting s{detail::key_from_env(std::string_view(name).substr(uwsgi.size())), value, Source::environment, name};
    s.uwsgi_section = true;
    out.push_back(std::move(s));
  }
  for (const auto& [name, value] : env) {
    static constexpr std::string_view prefix = "TRELLIS_";
    if (!name.starts_with(prefix) || ignore.contains(name)) continue;
    out.push_back(Setting{detail::key_from_env(std::string_view(name).substr(prefix.size())), value,
                          Source::environment, name});
  }
  return out;
}

}  // namespace trellis::config
