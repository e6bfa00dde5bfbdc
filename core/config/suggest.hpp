// "did you mean ...?" for unknown options.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace trellis::config {

// Optimal string alignment distance: Levenshtein plus adjacent
// transpositions, since "porcesses" is one typo, not two.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `word`, if it is close enough to be a plausible
// typo (at most 2 edits, or a third of the word's length for long words).
// Ties go to the earliest candidate, so callers list preferred names first.
std::optional<std::string> closest(std::string_view word, std::span<const std::string> candidates);

}  // namespace trellis::config
