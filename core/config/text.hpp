// Small string helpers shared by the readers and the resolver. Kept apart so
// that every source (argv, ini, environment) spells booleans and integers the
// same way: one function decides what "yes" means.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace trellis::config::text {

// Strips ASCII whitespace (space, tab, CR, LF, FF, VT) at both ends.
std::string_view trim(std::string_view s);

// "python3, http,,x" -> {"python3", "http", "x"}: empty items are dropped so a
// trailing comma in an ini file is harmless.
std::vector<std::string> split_commas(std::string_view s);

// true|false|1|0|yes|no|on|off, case-insensitive; nullopt for anything else.
std::optional<bool> parse_bool(std::string_view s);

// Strict decimal integer with optional sign: "12" yes, "12k", " 1", "" no.
std::optional<long long> parse_int(std::string_view s);

bool has_space(std::string_view s);

}  // namespace trellis::config::text
