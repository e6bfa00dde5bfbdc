#include <gtest/gtest.h>

#include <stdexcept>

#include "net/address.hpp"

using trellis::net::Address;
using trellis::net::parse_address;

TEST(Address, HostAndPort) {
  auto a = parse_address("127.0.0.1:8080");
  EXPECT_EQ(a.kind, Address::Kind::tcp);
  EXPECT_EQ(a.host, "127.0.0.1");
  EXPECT_EQ(a.port, "8080");
}

TEST(Address, PortOnlyMeansAllInterfaces) {
  auto a = parse_address(":3031");
  EXPECT_EQ(a.host, "");
  EXPECT_EQ(a.port, "3031");
}

TEST(Address, BracketedIpv6) {
  auto a = parse_address("[::1]:9000");
  EXPECT_EQ(a.host, "::1");
  EXPECT_EQ(a.port, "9000");
}

TEST(Address, UnixPathsAndAbstractSockets) {
  EXPECT_EQ(parse_address("/run/app.sock").kind, Address::Kind::unix_path);
  auto abstract = parse_address("@trellis");
  EXPECT_EQ(abstract.kind, Address::Kind::unix_abstract);
  EXPECT_EQ(abstract.path, "trellis");
}

TEST(Address, RejectsBadInput) {
  EXPECT_THROW(parse_address(""), std::invalid_argument);
  EXPECT_THROW(parse_address("host:99999"), std::invalid_argument);
  EXPECT_THROW(parse_address("host:http"), std::invalid_argument);
  EXPECT_THROW(parse_address("::1:80"), std::invalid_argument);
  EXPECT_THROW(parse_address("[::1]80"), std::invalid_argument);
}
