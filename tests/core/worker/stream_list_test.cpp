// A connection's streams: one inline, more in a vector, order kept.
#include "worker/stream_list.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace trellis::core {
namespace {

// Stream is only named by pointer here: distinct addresses serve.
Stream* fake(int i) { return reinterpret_cast<Stream*>(static_cast<std::uintptr_t>(0x1000 + 16 * i)); }

std::vector<Stream*> contents(const StreamList& l) {
  std::vector<Stream*> v;
  for (std::size_t i = 0; i < l.size(); ++i) v.push_back(l[i]);
  return v;
}

TEST(StreamList, KeepsOrderThroughPushPopAndRemove) {
  StreamList l;
  EXPECT_TRUE(l.empty());
  l.remove(fake(9));  // absent: nothing happens
  for (int i = 0; i < 5; ++i) l.push_back(fake(i));
  EXPECT_EQ(contents(l), (std::vector<Stream*>{fake(0), fake(1), fake(2), fake(3), fake(4)}));
  EXPECT_EQ(l.back(), fake(4));
  l.remove(fake(0));  // the inline one: the next moves in
  EXPECT_EQ(contents(l), (std::vector<Stream*>{fake(1), fake(2), fake(3), fake(4)}));
  l.remove(fake(3));
  EXPECT_EQ(contents(l), (std::vector<Stream*>{fake(1), fake(2), fake(4)}));
  l.remove(fake(3));  // gone already
  EXPECT_EQ(l.size(), 3u);
  l.pop_back();
  EXPECT_EQ(contents(l), (std::vector<Stream*>{fake(1), fake(2)}));
  l.pop_back();
  l.pop_back();
  EXPECT_TRUE(l.empty());
  l.push_back(fake(7));
  EXPECT_EQ(contents(l), (std::vector<Stream*>{fake(7)}));
  l.remove(fake(7));
  EXPECT_TRUE(l.empty());
}

}  // namespace
}  // namespace trellis::core
