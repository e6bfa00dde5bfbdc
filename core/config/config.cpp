// Config's read-only accessors.
#include "config/config.hpp"
#include "config/text.hpp"

namespace trellis::config {

const Config::Entry* Config::lookup(std::string_view name) const {
  const auto canonical = canonical_.find(name);
  if (canonical == canonical_.end()) return nullptr;
  const auto entry = entries_.find(canonical->second);
  return entry == entries_.end() ? nullptr : &entry->second;
}

std::span<const std::string> Config::values(std::string_view name) const {
  const Entry* entry = lookup(name);
  if (!entry) return {};
  return entry->values;
}

bool Config::flag(std::string_view name) const {
  const auto value = get(name);
  return value && text::parse_bool(*value).value_or(false);
}

std::optional<std::string> Config::get(std::string_view name) const {
  const auto all = values(name);
  if (all.empty()) return std::nullopt;
  return all.back();
}

long long Config::integer(std::string_view name, long long fallback) const {
  const auto value = get(name);
  if (!value) return fallback;
  return text::parse_int(*value).value_or(fallback);
}

bool Config::was_set(std::string_view name) const {
  const Entry* entry = lookup(name);
  return entry && entry->set_by_user;
}

std::optional<std::string> Config::origin(std::string_view name) const {
  const Entry* entry = lookup(name);
  if (!entry || entry->values.empty()) return std::nullopt;
  return entry->origin;
}

const OptionDef* Config::find(std::string_view name) const {
  const Entry* entry = lookup(name);
  return entry ? &entry->def : nullptr;
}

}  // namespace trellis::config
