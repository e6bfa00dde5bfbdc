// The character classes and the case-insensitive comparison the parser and
// the response checks use on every request, against plain reference code.
#include <gtest/gtest.h>

#include <string>

#include "char_class.hpp"

namespace trellis::http {
namespace {

bool reference_iequals(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c + 32);
    if (c != static_cast<unsigned char>(lower[i])) return false;
  }
  return true;
}

TEST(CharClass, IequalsMatchesTheReferenceForEveryByteAtEveryPosition) {
  // Lengths below, at and above one eight-byte word, with letters, digits
  // and '-' (whose byte differs from CR only in the case bit).
  for (std::string_view lower : {"te", "close", "upgrade", "trailers", "keep-alive", "content-type",
                                 "content-length", "x-forwarded-for-123", "transfer-encoding"}) {
    std::string s(lower);
    EXPECT_TRUE(iequals(s, lower));
    for (std::size_t i = 0; i < s.size(); ++i) {
      for (int b = 0; b < 256; ++b) {
        std::string t = s;
        t[i] = static_cast<char>(b);
        ASSERT_EQ(iequals(t, lower), reference_iequals(t, lower)) << lower << " byte " << b << " at " << i;
      }
    }
    std::string upper = s;
    for (char& c : upper)
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
    EXPECT_TRUE(iequals(upper, lower)) << upper;
    EXPECT_FALSE(iequals(s.substr(1), lower));
  }
}

}  // namespace
}  // namespace trellis::http
