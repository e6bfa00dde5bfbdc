// The HTTP rules both protocol plugins apply (sdk/include/trellis/http_rules.hpp).
#include <gtest/gtest.h>

#include <trellis/http_rules.hpp>

namespace trellis::sdk {
namespace {

// nginx's "if_modified_since exact": byte for byte, GET/HEAD, a 200 with
// Last-Modified, and no If-None-Match.
TEST(HttpRules, NotModified) {
  const std::string_view lm = "Wed, 21 Oct 2015 07:28:00 GMT";
  EXPECT_TRUE(answers_not_modified("GET", lm, false, 200, lm));
  EXPECT_TRUE(answers_not_modified("HEAD", lm, false, 200, lm));
  EXPECT_FALSE(answers_not_modified("POST", lm, false, 200, lm));
  EXPECT_FALSE(answers_not_modified("get", lm, false, 200, lm));
  EXPECT_FALSE(answers_not_modified("GET", lm, true, 200, lm));
  EXPECT_FALSE(answers_not_modified("GET", lm, false, 206, lm));
  EXPECT_FALSE(answers_not_modified("GET", lm, false, 304, lm));
  EXPECT_FALSE(answers_not_modified("GET", "", false, 200, lm));
  EXPECT_FALSE(answers_not_modified("GET", lm, false, 200, ""));
  EXPECT_FALSE(answers_not_modified("GET", "", false, 200, ""));
  EXPECT_FALSE(answers_not_modified("GET", "Wed, 21 Oct 2015 07:28:00 GMT ", false, 200, lm));
  EXPECT_FALSE(answers_not_modified("GET", "Thu, 22 Oct 2015 07:28:00 GMT", false, 200, lm));  // no date logic
  static_assert(answers_not_modified("GET", "x", false, 200, "x"));
  for (std::string_view kept : {"Last-Modified", "etag", "CACHE-CONTROL", "Expires", "Vary", "Date", "Content-Location"})
    EXPECT_TRUE(kept_in_not_modified(kept)) << kept;
  for (std::string_view dropped : {"Content-Length", "Content-Type", "Set-Cookie", "Server", "ETags", "X-Date"})
    EXPECT_FALSE(kept_in_not_modified(dropped)) << dropped;
  EXPECT_TRUE(field_name_equals("Last-Modified", "last-MODIFIED"));
  EXPECT_FALSE(field_name_equals("Last-Modified", "Last-Modifie"));
}

}  // namespace
}  // namespace trellis::sdk
