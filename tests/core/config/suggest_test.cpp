#include "config/suggest.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace trellis::config {
namespace {

TEST(Suggest, EditDistance) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("wsgi-fil", "wsgi-file"), 1u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("porcesses", "processes"), 1u);  // transposition
}

TEST(Suggest, ClosestOrNothing) {
  const std::vector<std::string> names{"processes", "threads", "wsgi-file", "http-socket"};
  EXPECT_EQ(closest("wsgi-fil", names), "wsgi-file");
  EXPECT_EQ(closest("http-sockt", names), "http-socket");
  EXPECT_EQ(closest("thread", names), "threads");
  EXPECT_FALSE(closest("vacuum", names).has_value());
  EXPECT_FALSE(closest("x", names).has_value());
}

}  // namespace
}  // namespace trellis::config
