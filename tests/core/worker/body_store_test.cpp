// The core's request-body store: memory up to --post-buffering and the
// worker's budget, then a temp file; reads interleaved with appends (a body
// read while it still arrives) return every byte once, in order.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "worker/body_store.hpp"

namespace {

using trellis::core::BodyBudget;
using trellis::core::BodyStore;

std::string read_all(BodyStore& s, std::size_t step) {
  std::string out;
  char buf[4096];
  for (;;) {
    std::size_t got = 0;
    EXPECT_TRUE(s.read(buf, std::min(step, sizeof buf), got));
    if (got == 0) return out;
    out.append(buf, got);
  }
}

TEST(BodyStore, SmallBodiesStayInMemoryAndAreCharged) {
  BodyBudget budget;
  budget.per_body = 1000;
  budget.per_worker = 10000;
  {
    BodyStore s(budget);
    ASSERT_TRUE(s.append("hello ", 6));
    ASSERT_TRUE(s.append("world", 5));
    EXPECT_FALSE(s.spooled());
    EXPECT_EQ(budget.in_use.load(), 11u);
    EXPECT_EQ(read_all(s, 3), "hello world");
    EXPECT_EQ(budget.in_use.load(), 0u);  // read pieces are given back at once
  }
  EXPECT_EQ(budget.in_use.load(), 0u);
}

TEST(BodyStore, PastPostBufferingTheBodyGoesToAFileWhole) {
  BodyBudget budget;
  budget.per_body = 100;
  budget.per_worker = 10000;
  BodyStore s(budget);
  std::string body;
  for (int i = 0; i < 50; ++i) body += "piece" + std::to_string(i) + ";";
  for (std::size_t at = 0; at < body.size(); at += 7) ASSERT_TRUE(s.append(body.data() + at, std::min<std::size_t>(7, body.size() - at)));
  EXPECT_TRUE(s.spooled());
  EXPECT_EQ(budget.in_use.load(), 0u);
  EXPECT_EQ(read_all(s, 13), body);
}

TEST(BodyStore, TheWorkersBudgetSendsEvenASmallBodyToAFile) {
  BodyBudget budget;
  budget.per_body = 1000;
  budget.per_worker = 10;
  BodyStore held(budget);
  ASSERT_TRUE(held.append("0123456789", 10));  // the whole budget
  BodyStore small(budget);
  ASSERT_TRUE(small.append("x", 1));
  EXPECT_TRUE(small.spooled());
  EXPECT_EQ(read_all(small, 100), "x");
}

TEST(BodyStore, ReadsInterleavedWithAppendsAcrossTheSpillSeeEveryByteOnce) {
  std::mt19937 rng(3);
  for (int round = 0; round < 50; ++round) {
    BodyBudget budget;
    budget.per_body = 200 + rng() % 400;
    budget.per_worker = 1 << 20;
    BodyStore s(budget);
    std::string sent, got;
    for (int i = 0; i < 200; ++i) {
      std::string piece(1 + rng() % 40, static_cast<char>('a' + i % 26));
      sent += piece;
      ASSERT_TRUE(s.append(piece.data(), piece.size()));
      if (rng() % 3 == 0) {
        char buf[64];
        std::size_t n = 0;
        ASSERT_TRUE(s.read(buf, 1 + rng() % sizeof buf, n));
        got.append(buf, n);
      }
    }
    got += read_all(s, 1 + rng() % 50);
    ASSERT_EQ(got, sent) << "round " << round;
  }
}

}  // namespace
