// --help: usage plus every option, grouped by who provides it.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>

namespace trellis::config {

namespace {

// Left column: "-p, --processes N". Flags take no value name.
std::string synopsis(const OptionDef& def) {
  std::string out = def.short_name ? std::string("-") + def.short_name + ", " : std::string("    ");
  out += "--" + def.name;
  if (def.type != TRELLIS_OPT_FLAG)
    out += " " + (def.value_name.empty() ? std::string(def.type == TRELLIS_OPT_INT ? "N" : "VALUE") : def.value_name);
  return out;
}

bool mentions_repeatable(std::string_view help) {
  std::string lower;
  for (char c : help) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower.find("repeatable") != std::string::npos;
}

// Right column: the help plus what a user needs to know to write it.
std::string details(const OptionDef& def) {
  std::vector<std::string> notes;
  if (def.default_value) notes.push_back("default: " + *def.default_value);
  if (!def.aliases.empty()) {
    std::string aliases = def.aliases.size() == 1 ? "alias: " : "aliases: ";
    for (std::size_t i = 0; i < def.aliases.size(); ++i) aliases += (i ? ", --" : "--") + def.aliases[i];
    notes.push_back(aliases);
  }
  // Some declarations already say so in their help ("... (repeatable)").
  if (def.type == TRELLIS_OPT_LIST && !mentions_repeatable(def.help)) notes.push_back("repeatable");
  std::string out = def.help;
  if (!notes.empty()) {
    if (!out.empty()) out += ' ';
    out += '(';
    for (std::size_t i = 0; i < notes.size(); ++i) out += (i ? "; " : "") + notes[i];
    out += ')';
  }
  return out;
}

}  // namespace

std::string help_text(std::span<const OptionDef> options, std::string_view program) {
  std::vector<const OptionDef*> all;
  for (const auto& def : bootstrap_options()) all.push_back(&def);
  for (const auto& def : options) all.push_back(&def);

  // Owners in order of first appearance, "core" always first.
  std::vector<std::string> owners{"core"};
  for (const auto* def : all)
    if (std::find(owners.begin(), owners.end(), def->owner) == owners.end()) owners.push_back(def->owner);

  // One column width for the whole text so groups line up; very long
  // synopses wrap the help onto the next line instead of widening it.
  constexpr std::size_t max_width = 34;
  std::size_t width = 0;
  for (const auto* def : all) width = std::max(width, std::min(max_width, synopsis(*def).size()));

  std::string out = "Usage: " + std::string(program) + " [OPTIONS] [FILE.ini[:SECTION] ...]\n";
  for (const auto& owner : owners) {
    out += owner == "core" ? "\nCore options:\n" : "\nPlugin " + owner + " options:\n";
    for (const auto* def : all) {
      if (def->owner != owner) continue;
      const std::string left = "  " + synopsis(*def);
      const std::string right = details(*def);
      // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false
      // positive) about "\n" + std::string(...), whose insert at 0 it inlines.
      out += left;
      if (!right.empty()) {
        if (left.size() > width + 2) {
          out += '\n';
          out.append(width + 4, ' ');
        } else {
          out.append(width + 4 - left.size(), ' ');
        }
        out += right;
      }
      out += '\n';
    }
  }
  out +=
      "\nEvery option can also be set in an ini file ([trellis] or [uwsgi] section, 'name = value')\n"
      "or in the environment as TRELLIS_<NAME> (upper case, '-' as '_').\n"
      "Precedence: command line, then environment, then ini files; repeatable options keep every value.\n";
  return out;
}

}  // namespace trellis::config
