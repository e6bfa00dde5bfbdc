// Connection: the socket side of a protocol session. Over a real socket
// pair (AF_UNIX socketpair and loopback TCP) with a fake worker
// (ConnectionHost) and a fake protocol session (the C tables of abi.h):
// the write path and its backpressure (queue, low-water mark, output
// accounting), write_last, the three close modes, file chunks, pausing,
// the peer's EOF and reset, and the session-table check of open_session.
//
// Tests wait for what they expect by turning the loop until it holds or
// five seconds pass; never by sleeping.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <trellis/abi.h>

#include "loop/event_loop.hpp"
#include "net/listener.hpp"
#include "worker/connection.hpp"
#include "worker/listener_ref.hpp"

namespace {

using namespace std::chrono_literals;
using trellis::core::Connection;
using trellis::core::ConnectionHost;
using trellis::core::ConnectionLimits;
using trellis::core::EventLoop;
using trellis::core::Listener;

constexpr auto kPatience = 5s;
constexpr std::size_t kLowWater = 64 * 1024;
constexpr std::size_t kBig = 1024 * 1024;  // far more than a small socket buffer takes

// Bytes whose every position matters: a lost, doubled or reordered run shows.
std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (std::size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

// ---- the worker -------------------------------------------------------------

struct FakeHost final : ConnectionHost {
  EventLoop ev;
  ConnectionLimits lim;
  std::atomic<std::size_t> in_use{0};
  int released_calls = 0;
  int returned_calls = 0;
  int dead_calls = 0;
  std::vector<Connection*> dead;
  std::vector<std::string> failures;

  FakeHost() {
    // Long enough never to end a test by themselves (the deadline tests
    // shorten them).
    lim.header_timeout_ms = 60000;
    lim.keepalive_timeout_ms = 60000;
    lim.socket_timeout_ms = 60000;
    lim.low_water = kLowWater;
  }
  EventLoop& loop() override { return ev; }
  const ConnectionLimits& limits() const override { return lim; }
  std::atomic<std::size_t>& output_in_use() override { return in_use; }
  void output_released() override { ++released_calls; }
  trellis_stream* open_stream(Connection&, const trellis_request_head*, const trellis_stream_sink*, void*) override {
    ADD_FAILURE() << "no test opens a stream";
    return nullptr;
  }
  void session_returned() override { ++returned_calls; }
  void connection_dead(Connection& c) override {
    ++dead_calls;
    dead.push_back(&c);
  }
  void system_failure(const std::string& what) override { failures.push_back(what); }
};

// ---- the protocol session ----------------------------------------------------

struct FakeSession {
  trellis_conn* conn = nullptr;
  char buf[16384];
  std::size_t space = sizeof buf;  // what read_space offers (0: nothing now)
  std::string received;
  int received_calls = 0;
  int eof_calls = 0;
  int writable_calls = 0;
  int drain_calls = 0;
  int release_calls = 0;
  std::uint32_t phase = TRELLIS_PHASE_IDLE;
  std::vector<std::size_t> queued_at_writable;
  bool closed = false;       // the test closed the connection: only release() may follow
  int after_close = 0;       // callbacks (other than release) that came after the close
  int after_release = 0;     // callbacks of any kind after release
  std::string order;         // "r" received, "e" eof, "w" writable, "d" drain
  std::function<void()> received_hook, writable_hook;

  Connection& c() { return *Connection::of(conn); }
  void callback(char what) {
    if (release_calls) ++after_release;
    if (closed) ++after_close;
    order += what;
  }
};

FakeSession& S(void* self) { return *static_cast<FakeSession*>(self); }

trellis_str s_read_space(void* self) { return {S(self).buf, S(self).space}; }
void s_on_received(void* self, std::size_t n) {
  auto& s = S(self);
  s.callback('r');
  ++s.received_calls;
  s.received.append(s.buf, n);
  if (s.received_hook) s.received_hook();
}
void s_on_eof(void* self) {
  S(self).callback('e');
  ++S(self).eof_calls;
}
void s_on_writable(void* self) {
  auto& s = S(self);
  s.callback('w');
  ++s.writable_calls;
  s.queued_at_writable.push_back(s.c().queued());
  if (s.writable_hook) s.writable_hook();
}
void s_on_drain(void* self) {
  S(self).callback('d');
  ++S(self).drain_calls;
}
std::uint32_t s_phase(void* self) { return S(self).phase; }
void s_release(void* self) {
  if (S(self).release_calls) ++S(self).after_release;
  ++S(self).release_calls;
}

constexpr trellis_session_table kTable = {sizeof(trellis_session_table), s_read_space, s_on_received, s_on_eof,
                                          s_on_writable, s_on_drain, s_phase, s_release};
// The optional slots left out.
constexpr trellis_session_table kMinimalTable = {
    sizeof(trellis_session_table), s_read_space, s_on_received, s_on_eof, nullptr, nullptr, s_phase, s_release};

// The protocol: hands out `table` with `session` as the session's self.
struct FakeProtocol {
  const trellis_session_table* table = &kTable;
  FakeSession* session = nullptr;
  int opened = 0;
};

const trellis_session_table* p_open_session(void* self, trellis_conn* conn, void** session_self) {
  auto& p = *static_cast<FakeProtocol*>(self);
  ++p.opened;
  if (!p.table) return nullptr;
  p.session->conn = conn;
  *session_self = p.session;
  return p.table;
}

trellis_status p_check_head(void*, const trellis_response_head*, const char**) { return TRELLIS_OK; }

constexpr trellis_protocol_table kProtocol = {sizeof(trellis_protocol_table), "fake", "fake-socket", p_open_session,
                                              p_check_head};

trellis_chunk bytes(std::string_view s) {
  trellis_chunk c{};
  c.kind = TRELLIS_CHUNK_BYTES;
  c.data = s.data();
  c.len = s.size();
  c.fd = -1;
  return c;
}

trellis_chunk file(int fd, std::int64_t offset, std::size_t len) {
  trellis_chunk c{};
  c.kind = TRELLIS_CHUNK_FILE;
  c.fd = fd;
  c.offset = offset;
  c.len = len;
  return c;
}

// What the peer read so far.
struct PeerRead {
  std::string data;
  bool eof = false;
  int err = 0;  // errno of a failed read (ECONNRESET ...)
};

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    std::string path = ::testing::TempDir() + "trellis-conn-XXXXXX";
    fd_ = mkstemp(path.data());
    if (fd_ < 0) return;
    unlink(path.c_str());
    std::size_t done = 0;
    while (done < content.size()) {
      ssize_t n = ::write(fd_, content.data() + done, content.size() - done);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
  }
  ~TempFile() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
};

// ---- the fixture ----------------------------------------------------------------

enum class Transport { unix_pair, tcp };

std::string transport_name(const ::testing::TestParamInfo<Transport>& info) {
  return info.param == Transport::tcp ? "Tcp" : "Unix";
}

class ConnectionTest : public ::testing::TestWithParam<Transport> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.ev.open());
    protocol_.session = &session_;
  }

  void TearDown() override {
    conn_.reset();
    if (conn_fd_ >= 0) ::close(conn_fd_);
    if (peer_ >= 0) ::close(peer_);
    EXPECT_EQ(session_.after_release, 0) << "a session callback came after release()";
    EXPECT_TRUE(host_.failures.empty()) << host_.failures.front();
  }

  bool tcp() const { return GetParam() == Transport::tcp; }

  // A connected pair: conn_fd_ (non-blocking, as accept4 gives it) and
  // peer_ (non-blocking too; the test reads it by turns). `small`: socket
  // buffers as small as the kernel allows, so that little is in flight and
  // the connection must queue.
  void make_pair(bool small) {
    if (!tcp()) {
      int sv[2];
      ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
      conn_fd_ = sv[0];
      peer_ = sv[1];
      socket_.address.kind = trellis::net::Address::Kind::unix_path;
      socket_.address.text = "/test/fake.sock";
    } else {
      int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(lfd, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      ASSERT_EQ(::listen(lfd, 1), 0);
      socklen_t len = sizeof a;
      ASSERT_EQ(getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
      peer_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      ASSERT_GE(peer_, 0);
      if (small) {
        int v = 4096;  // before connect: the window is announced small from the start
        ASSERT_EQ(setsockopt(peer_, SOL_SOCKET, SO_RCVBUF, &v, sizeof v), 0);
      }
      ASSERT_EQ(::connect(peer_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
      ASSERT_EQ(fcntl(peer_, F_SETFL, fcntl(peer_, F_GETFL) | O_NONBLOCK), 0);
      conn_fd_ = accept4(lfd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      ASSERT_GE(conn_fd_, 0);
      ::close(lfd);
      int one = 1;
      setsockopt(conn_fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      socket_.address.kind = trellis::net::Address::Kind::tcp;
      socket_.address.text = "127.0.0.1:0";
    }
    if (small) {
      int v = 4096;
      ASSERT_EQ(setsockopt(conn_fd_, SOL_SOCKET, SO_SNDBUF, &v, sizeof v), 0);
    }
    socket_.local_host = "127.0.0.1";
    socket_.local_port = "0";
  }

  // The connection over the pair, its session open and started.
  void open(bool small = false, const trellis_session_table* table = &kTable) {
    make_pair(small);
    ASSERT_FALSE(HasFatalFailure());
    protocol_.table = table;
    conn_ = std::make_unique<Connection>(host_, conn_fd_, nullptr, listener_);
    conn_fd_ = -1;  // the connection owns it
    ASSERT_TRUE(conn_->open_session());
    ASSERT_EQ(protocol_.opened, 1);
    conn_->start(false);
  }

  // One loop turn, then what the worker does at the end of a turn: free
  // the connections that died.
  void turn(int max_wait_ms = 5) {
    ASSERT_TRUE(host_.ev.run_once(max_wait_ms));
    collect();
  }
  void collect() {
    for (Connection* c : host_.dead)
      if (c == conn_.get()) conn_.reset();
    host_.dead.clear();
  }

  // Turns the loop until `done` holds (true) or the patience runs out.
  template <class Pred>
  bool turn_until(Pred done, int max_wait_ms = 5) {
    auto end = std::chrono::steady_clock::now() + kPatience;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      turn(max_wait_ms);
      if (HasFatalFailure()) return false;
    }
    return true;
  }

  // Reads what the peer has now (never waits).
  void peer_take(PeerRead& r) {
    static char buf[65536];
    for (;;) {
      ssize_t n = ::recv(peer_, buf, sizeof buf, 0);
      if (n > 0) {
        r.data.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) {
        r.eof = true;
        return;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN) r.err = errno;
      return;
    }
  }

  // The peer reads while the loop turns, until `done(read)` holds.
  template <class Pred>
  bool peer_read_until(PeerRead& r, Pred done) {
    return turn_until([&] {
      peer_take(r);
      return done(r);
    }, 1);
  }
  // ... until the end of the stream (EOF or an error).
  bool peer_read_to_end(PeerRead& r) {
    return peer_read_until(r, [](const PeerRead& x) { return x.eof || x.err; });
  }

  void peer_send(std::string_view s) { ASSERT_EQ(::send(peer_, s.data(), s.size(), MSG_NOSIGNAL), ssize_t(s.size())); }

  trellis_status write(std::string_view s, bool last = false) {
    trellis_chunk c = bytes(s);
    return conn_->write(&c, 1, last);
  }

  void steady_reader_outlasts_the_socket_timeout(bool as_file);

  // Until `fd` has bytes to read (the peer's bytes crossed loopback).
  static void wait_readable(int fd) {
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
  }

  // A few turns in which nothing is expected to happen (for "nothing came").
  void idle_turns(int n = 20) {
    for (int i = 0; i < n && !HasFatalFailure(); ++i) turn(5);
  }

  FakeHost host_;
  FakeSession session_;
  FakeProtocol protocol_;
  trellis::net::ListenSocket socket_;
  Listener listener_{&socket_, &kProtocol, &protocol_};
  int conn_fd_ = -1;
  int peer_ = -1;
  std::unique_ptr<Connection> conn_;  // last: freed before the session and the loop
};

class TcpConnectionTest : public ConnectionTest {};

INSTANTIATE_TEST_SUITE_P(Both, ConnectionTest, ::testing::Values(Transport::unix_pair, Transport::tcp), transport_name);
INSTANTIATE_TEST_SUITE_P(Tcp, TcpConnectionTest, ::testing::Values(Transport::tcp), transport_name);

// ---- the write path -------------------------------------------------------------

TEST_P(ConnectionTest, BytesTheSocketTakesGoOutAtOnceWithoutAQueue) {
  open();
  std::string data = pattern(1000, 1);
  ASSERT_EQ(write(data), TRELLIS_OK);
  EXPECT_EQ(conn_->queued(), 0u);
  EXPECT_EQ(host_.in_use.load(), 0u);
  EXPECT_EQ(host_.released_calls, 0);
  // Already in the peer's socket: no loop turn needed.
  PeerRead r;
  peer_take(r);
  EXPECT_EQ(r.data, data);
  EXPECT_FALSE(r.eof);
}

TEST_P(ConnectionTest, SeveralChunksInOneWriteGoOutInOrder) {
  open();
  std::string a = pattern(100, 2), b = pattern(3000, 3), c = pattern(7, 4);
  trellis_chunk chunks[] = {bytes(a), bytes(""), bytes(b), bytes(c)};
  ASSERT_EQ(conn_->write(chunks, 4, false), TRELLIS_OK);
  PeerRead r;
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= a.size() + b.size() + c.size(); }));
  EXPECT_EQ(r.data, a + b + c);
}

TEST_P(ConnectionTest, AFullSocketQueuesWithoutBlockingAndDrainsInOrderOnceThePeerReads) {
  open(/*small=*/true);
  std::string first = pattern(kBig, 5);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_EQ(write(first), TRELLIS_OK);
  std::size_t q1 = conn_->queued();
  EXPECT_GT(q1, kLowWater) << "the small socket took nearly everything: the test cannot see the queue";
  EXPECT_LT(q1, first.size()) << "the socket took some at once";
  // Queued while the queue is not empty: all of it queues.
  std::string second = pattern(100000, 6);
  ASSERT_EQ(write(second), TRELLIS_OK);
  std::string third = pattern(10, 7);
  ASSERT_EQ(write(third), TRELLIS_OK);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s) << "conn_write must never block";
  EXPECT_EQ(conn_->queued(), q1 + second.size() + third.size());
  // The worker's output gauge counts what waits.
  EXPECT_EQ(host_.in_use.load(), conn_->queued());
  EXPECT_EQ(conn_->queued_gauge()->load(), conn_->queued());
  EXPECT_EQ(host_.released_calls, 0);

  // The peer does not read: the loop turns, nothing moves, nobody is told.
  // (On TCP the peer's kernel may still absorb a little of it.)
  idle_turns(10);
  if (!tcp()) {
    EXPECT_EQ(conn_->queued(), q1 + second.size() + third.size());
  }
  EXPECT_GT(conn_->queued(), kLowWater);
  EXPECT_EQ(session_.writable_calls, 0);

  std::string all = first + second + third;
  PeerRead r;
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= all.size(); }))
      << "read " << r.data.size() << " of " << all.size();
  ASSERT_TRUE(turn_until([&] { return conn_->queued() == 0; }));
  EXPECT_TRUE(r.data == all) << "the peer got the bytes out of order or altered";
  EXPECT_EQ(conn_->queued(), 0u);
  EXPECT_EQ(host_.in_use.load(), 0u);
  EXPECT_GT(host_.released_calls, 0);
  // Told once, when the queue fell to the low-water mark or below.
  ASSERT_EQ(session_.writable_calls, 1);
  EXPECT_LE(session_.queued_at_writable[0], kLowWater);
  EXPECT_FALSE(conn_->dead());
  EXPECT_FALSE(r.eof);
}

TEST_P(ConnectionTest, ASessionThatWritesFromOnWritableStreamsALargeBodyInOrder) {
  open(/*small=*/true);
  // Writes the next part whenever the queue falls below the low-water mark,
  // as a protocol streaming a large response does.
  std::vector<std::string> parts;
  for (int i = 0; i < 6; ++i) parts.push_back(pattern(200000 + i, 10 + i));
  std::size_t next = 0;
  auto write_next = [&] {
    while (next < parts.size() && conn_->queued() <= kLowWater) ASSERT_EQ(write(parts[next++]), TRELLIS_OK);
  };
  session_.writable_hook = write_next;
  write_next();
  ASSERT_LT(next, parts.size()) << "the first part should have filled the queue";
  std::string all;
  for (auto& p : parts) all += p;
  PeerRead r;
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= all.size(); }))
      << "read " << r.data.size() << " of " << all.size() << ", " << next << " parts written";
  EXPECT_TRUE(r.data == all);
  EXPECT_GE(session_.writable_calls, 1);
  for (std::size_t q : session_.queued_at_writable) EXPECT_LE(q, kLowWater);
  ASSERT_TRUE(turn_until([&] { return host_.in_use.load() == 0; }));
}

TEST_P(ConnectionTest, WithoutOnWritableTheQueueStillDrains) {
  open(/*small=*/true, &kMinimalTable);
  std::string data = pattern(kBig, 20);
  ASSERT_EQ(write(data), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), kLowWater);
  PeerRead r;
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= data.size(); }));
  EXPECT_TRUE(r.data == data);
  ASSERT_TRUE(turn_until([&] { return host_.in_use.load() == 0; }));
  EXPECT_EQ(session_.writable_calls, 0);
}

// ---- write_last -----------------------------------------------------------------

TEST_P(ConnectionTest, WriteLastDeliversTheBytesThenEndsTheSendingSide) {
  open();
  std::string data = pattern(5000, 30);
  ASSERT_EQ(write(data, /*last=*/true), TRELLIS_OK);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.data, data);
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.err, 0);
  // Nothing more can be written ...
  EXPECT_EQ(write("more"), TRELLIS_CLOSED);
  // ... but only the sending side ended: the peer can still talk.
  peer_send("still here");
  ASSERT_TRUE(turn_until([&] { return session_.received == "still here"; }));
  EXPECT_FALSE(conn_->dead());
}

TEST_P(ConnectionTest, WriteLastOfAQueuedResponseEndsOnlyAfterTheQueue) {
  open(/*small=*/true);
  std::string head = pattern(kBig, 31), tail = pattern(70000, 32);
  ASSERT_EQ(write(head), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  ASSERT_EQ(write(tail, /*last=*/true), TRELLIS_OK);
  EXPECT_EQ(write("x"), TRELLIS_CLOSED);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_TRUE(r.eof);
  EXPECT_TRUE(r.data == head + tail) << "got " << r.data.size() << " bytes";
  EXPECT_EQ(host_.in_use.load(), 0u);
}

// ---- closing ------------------------------------------------------------------------

TEST_P(ConnectionTest, GracefulCloseSendsTheQueueThenLingersUntilThePeerCloses) {
  open(/*small=*/true);
  std::string data = pattern(kBig, 40);
  ASSERT_EQ(write(data), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_GRACEFUL);
  EXPECT_FALSE(conn_->dead()) << "a graceful close waits for the queue";
  EXPECT_EQ(write("late"), TRELLIS_CLOSED);

  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.err, 0);
  EXPECT_TRUE(r.data == data) << "got " << r.data.size() << " bytes";
  // Lingering: what the peer still sends is read and dropped, unseen by the
  // session, and the connection waits for the peer to close.
  peer_send("ignored request bytes");
  idle_turns();
  ASSERT_NE(conn_, nullptr) << "the connection went before the peer closed";
  EXPECT_FALSE(conn_->dead());
  EXPECT_EQ(session_.received, "");
  EXPECT_EQ(session_.release_calls, 0);

  ::shutdown(peer_, SHUT_WR);
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }));
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(session_.after_close, 0);
  EXPECT_EQ(host_.in_use.load(), 0u);
}

TEST_P(ConnectionTest, GracefulCloseStopsLingeringAfterTwoSeconds) {
  open();
  ASSERT_EQ(write("bye"), TRELLIS_OK);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_GRACEFUL);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  ASSERT_EQ(r.data, "bye");
  // The peer never closes: the linger timer (2 s) ends it.
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }, 50));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1500ms);
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(ConnectionTest, CloseAfterWriteEndsOnceTheQueueIsSentWithoutWaitingForThePeer) {
  open(/*small=*/true);
  std::string data = pattern(kBig, 41);
  ASSERT_EQ(write(data), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_AFTER_WRITE);
  EXPECT_FALSE(conn_->dead()) << "the queue goes first";
  EXPECT_EQ(write("late"), TRELLIS_CLOSED);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.err, 0);
  EXPECT_TRUE(r.data == data) << "got " << r.data.size() << " bytes";
  // The peer never closed, yet the connection is gone.
  EXPECT_EQ(conn_, nullptr);
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(session_.after_close, 0);
  EXPECT_EQ(host_.in_use.load(), 0u);
}

TEST_P(ConnectionTest, CloseAfterWriteWithNothingQueuedEndsAtOnce) {
  open();
  ASSERT_EQ(write("done"), TRELLIS_OK);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_AFTER_WRITE);
  EXPECT_TRUE(conn_->dead());
  EXPECT_EQ(host_.dead_calls, 1);
  collect();
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.data, "done");
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(TcpConnectionTest, CloseAfterWriteWithUnreadInputLingersSoThatNoResetDestroysTheResponse) {
  open(/*small=*/true);
  conn_->pause_reading(true);
  peer_send("a pipelined request the session never reads");
  idle_turns(5);
  std::string data = pattern(kBig, 42);
  ASSERT_EQ(write(data), TRELLIS_OK);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_AFTER_WRITE);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.err, 0) << std::strerror(r.err);
  EXPECT_TRUE(r.eof);
  EXPECT_TRUE(r.data == data) << "got " << r.data.size() << " bytes";
  EXPECT_NE(conn_, nullptr) << "closing over unread input would have sent a reset";
  ::shutdown(peer_, SHUT_WR);
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }));
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(TcpConnectionTest, AbortResetsThePeer) {
  open(/*small=*/true);
  std::string data = pattern(kBig, 43);
  ASSERT_EQ(write(data), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_ABORT);
  EXPECT_TRUE(conn_->dead()) << "an abort does not wait";
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 0) << "release() waits for the end of the turn";
  collect();
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(host_.in_use.load(), 0u) << "the dropped queue is no longer counted";
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_FALSE(r.eof) << "a response cut short must never look complete";
  EXPECT_EQ(r.err, ECONNRESET);
  EXPECT_LT(r.data.size(), data.size());
}

TEST_P(TcpConnectionTest, AbortWithNothingQueuedStillResets) {
  open();
  ASSERT_EQ(write("partial"), TRELLIS_OK);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_ABORT);
  collect();
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(r.err, ECONNRESET);
}

TEST_P(ConnectionTest, AbortDuringAGracefulCloseEndsAtOnce) {
  open(/*small=*/true);
  ASSERT_EQ(write(pattern(kBig, 44)), TRELLIS_OK);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_GRACEFUL);
  ASSERT_FALSE(conn_->dead());
  conn_->close(TRELLIS_CLOSE_ABORT);
  EXPECT_TRUE(conn_->dead());
  conn_->close(TRELLIS_CLOSE_ABORT);  // a second close of a dead connection is harmless
  EXPECT_EQ(host_.dead_calls, 1);
  collect();
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(host_.in_use.load(), 0u);
}

TEST_P(ConnectionTest, ASessionMayCloseItsConnectionFromItsOwnCallback) {
  open();
  session_.received_hook = [&] {
    ASSERT_EQ(write("answer"), TRELLIS_OK);
    session_.closed = true;
    session_.c().close(TRELLIS_CLOSE_AFTER_WRITE);
  };
  peer_send("request");
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }));
  EXPECT_EQ(session_.received, "request");
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(session_.after_close, 0);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.data, "answer");
  EXPECT_TRUE(r.eof);
}

// ---- file chunks ----------------------------------------------------------------------


TEST_P(ConnectionTest, FileChunksAreSentByteExact) {
  open();
  std::string content = pattern(300000, 50);
  TempFile f(content);
  ASSERT_GE(f.fd(), 0);
  std::string a = "HEAD", b = "MIDDLE", c = "TAIL";
  trellis_chunk chunks[] = {bytes(a), file(f.fd(), 1234, 100000), bytes(b), file(f.fd(), 0, 10), bytes(c)};
  ASSERT_EQ(conn_->write(chunks, 5, false), TRELLIS_OK);
  std::string want = a + content.substr(1234, 100000) + b + content.substr(0, 10) + c;
  PeerRead r;
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= want.size(); }));
  EXPECT_TRUE(r.data == want) << "got " << r.data.size() << " bytes";
}

TEST_P(ConnectionTest, QueuedFileChunksAreSentByteExactAfterTheCallerClosedTheFile) {
  open(/*small=*/true);
  std::string content = pattern(3 * 1024 * 1024, 51);
  TempFile f(content);
  ASSERT_GE(f.fd(), 0);
  std::string a = pattern(20000, 52), b = "between", c = pattern(90000, 53);
  trellis_chunk chunks[] = {bytes(a), file(f.fd(), 12345, 2 * 1024 * 1024 + 7), bytes(b), file(f.fd(), 0, 999),
                            bytes(c)};
  ASSERT_EQ(conn_->write(chunks, 5, false), TRELLIS_OK);
  // The file ranges wait in the queue; abi.h lets the caller close the file now.
  f.close();
  // More bytes after them, queued behind.
  std::string d = pattern(5000, 54);
  ASSERT_EQ(write(d, /*last=*/true), TRELLIS_OK);
  std::string want = a + content.substr(12345, 2 * 1024 * 1024 + 7) + b + content.substr(0, 999) + c + d;
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r)) << "read " << r.data.size() << " of " << want.size();
  EXPECT_TRUE(r.eof);
  EXPECT_EQ(r.data.size(), want.size());
  EXPECT_TRUE(r.data == want);
  EXPECT_EQ(host_.in_use.load(), 0u);
}

TEST_P(ConnectionTest, AFileShorterThanPromisedResetsTheConnection) {
  open();
  std::string content = pattern(1000, 55);
  TempFile f(content);
  ASSERT_GE(f.fd(), 0);
  trellis_chunk c = file(f.fd(), 0, 5000);
  EXPECT_EQ(conn_->write(&c, 1, false), TRELLIS_CLOSED);
  EXPECT_TRUE(conn_->dead());
  EXPECT_EQ(host_.dead_calls, 1);
  collect();
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_LE(r.data.size(), content.size());
  if (tcp()) {
    EXPECT_EQ(r.err, ECONNRESET) << "a cut response must not look complete";
  }
}

// ---- reading ------------------------------------------------------------------------------

TEST_P(ConnectionTest, BytesFromThePeerReachOnReceived) {
  open();
  peer_send("hello");
  ASSERT_TRUE(turn_until([&] { return session_.received == "hello"; }));
  std::string big = pattern(200000, 60);
  peer_send(big.substr(0, 100000));
  peer_send(big.substr(100000));
  ASSERT_TRUE(turn_until([&] { return session_.received.size() >= 5 + big.size(); }));
  EXPECT_TRUE(session_.received == "hello" + big);
  EXPECT_GE(host_.returned_calls, session_.received_calls) << "session_returned after each callback";
}

TEST_P(ConnectionTest, BytesThatArrivedBeforeStartAreReadByStart) {
  make_pair(false);
  ASSERT_EQ(::send(peer_, "early", 5, 0), 5);
  wait_readable(conn_fd_);
  conn_ = std::make_unique<Connection>(host_, conn_fd_, nullptr, listener_);
  conn_fd_ = -1;
  ASSERT_TRUE(conn_->open_session());
  conn_->start(false);
  EXPECT_EQ(session_.received, "early") << "start() reads what came with the connection";
}

TEST_P(ConnectionTest, PausedReadingHoldsBytesBackUntilResumed) {
  open();
  conn_->pause_reading(true);
  peer_send("waiting");
  idle_turns();
  EXPECT_EQ(session_.received_calls, 0);
  EXPECT_FALSE(conn_->dead());
  conn_->pause_reading(false);
  ASSERT_TRUE(turn_until([&] { return session_.received == "waiting"; }));
}

TEST_P(ConnectionTest, PausingFromOnReceivedStopsTheNextDelivery) {
  open();
  session_.space = 4;  // one read takes 4 bytes at most
  session_.received_hook = [&] { session_.c().pause_reading(true); };
  peer_send("abcdefgh");
  ASSERT_TRUE(turn_until([&] { return session_.received_calls == 1; }));
  idle_turns();
  EXPECT_EQ(session_.received, "abcd");
  session_.received_hook = nullptr;
  conn_->pause_reading(false);
  ASSERT_TRUE(turn_until([&] { return session_.received == "abcdefgh"; }));
}

TEST_P(ConnectionTest, EofWhilePausedWaitsBehindTheBytesUntilResumed) {
  open();
  conn_->pause_reading(true);
  peer_send("last words");
  ::shutdown(peer_, SHUT_WR);
  idle_turns();
  EXPECT_EQ(session_.order, "");
  conn_->pause_reading(false);
  ASSERT_TRUE(turn_until([&] { return session_.eof_calls == 1; }));
  EXPECT_EQ(session_.received, "last words");
  EXPECT_EQ(session_.order.back(), 'e');
  EXPECT_EQ(session_.order.find('e'), session_.order.size() - 1) << "on_eof once, after the bytes: " << session_.order;
}

TEST_P(ConnectionTest, NoReadSpaceStopsReadingUntilTheSessionResumes) {
  open();
  session_.space = 0;
  peer_send("held");
  idle_turns();
  EXPECT_EQ(session_.received_calls, 0);
  session_.space = sizeof session_.buf;
  conn_->pause_reading(false);
  ASSERT_TRUE(turn_until([&] { return session_.received == "held"; }));
}

TEST_P(ConnectionTest, PeerEofReachesOnEofAndTheResponseCanStillBeSent) {
  open();
  peer_send("request");
  ::shutdown(peer_, SHUT_WR);
  ASSERT_TRUE(turn_until([&] { return session_.eof_calls == 1; }));
  EXPECT_EQ(session_.received, "request");
  EXPECT_EQ(session_.order, std::string(session_.received_calls, 'r') + "e");
  idle_turns(5);
  EXPECT_EQ(session_.eof_calls, 1);
  ASSERT_NE(conn_, nullptr) << "a half-closed peer still reads the response";
  ASSERT_EQ(write("response", /*last=*/true), TRELLIS_OK);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.data, "response");
  EXPECT_TRUE(r.eof);
}

TEST_P(TcpConnectionTest, PeerResetKillsTheConnectionAndReleasesTheSessionOnce) {
  open(/*small=*/true);
  ASSERT_EQ(write(pattern(kBig, 70)), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  linger lg{1, 0};
  ASSERT_EQ(setsockopt(peer_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ::close(peer_);
  peer_ = -1;
  ASSERT_TRUE(turn_until([&] { return host_.dead_calls > 0; }));
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(conn_, nullptr);
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(host_.in_use.load(), 0u) << "the dropped queue is no longer counted";
  idle_turns(3);
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(TcpConnectionTest, PeerResetWhileIdleKillsTheConnection) {
  open();
  linger lg{1, 0};
  ASSERT_EQ(setsockopt(peer_, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
  ::close(peer_);
  peer_ = -1;
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }));
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(ConnectionTest, WritingToAPeerThatClosedKillsTheConnection) {
  open();
  ::close(peer_);
  peer_ = -1;
  // The peer's close reaches the session as EOF (and kills a UNIX
  // connection, whose both directions are gone).
  ASSERT_TRUE(turn_until([&] { return session_.eof_calls == 1; }));
  // On TCP the first write may still be taken (the reset comes back);
  // writing on does fail.
  trellis_status st = TRELLIS_OK;
  ASSERT_TRUE(turn_until([&] {
    if (!conn_) return true;
    st = write(pattern(10000, 71));
    return st != TRELLIS_OK;
  }));
  if (conn_) {
    EXPECT_EQ(st, TRELLIS_CLOSED);
  }
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }));
  EXPECT_EQ(host_.dead_calls, 1);
  EXPECT_EQ(session_.release_calls, 1);
}

// ---- deadlines -----------------------------------------------------------------------------

TEST_P(ConnectionTest, AHeadThatDoesNotArriveInTimeEndsTheConnection) {
  host_.lim.header_timeout_ms = 100;
  session_.phase = TRELLIS_PHASE_HEAD;
  auto t0 = std::chrono::steady_clock::now();
  open();
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }, 20));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 90ms);
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_P(ConnectionTest, ABusySessionHasNoReadTimeout) {
  host_.lim.keepalive_timeout_ms = 50;
  host_.lim.header_timeout_ms = 50;
  host_.lim.socket_timeout_ms = 50;
  session_.phase = TRELLIS_PHASE_BUSY;
  open();
  idle_turns(30);  // well past every timeout
  ASSERT_NE(conn_, nullptr);
  EXPECT_FALSE(conn_->dead());
}

TEST_P(TcpConnectionTest, OutputThePeerDoesNotReadWithinTheSocketTimeoutResetsIt) {
  host_.lim.socket_timeout_ms = 200;
  session_.phase = TRELLIS_PHASE_BUSY;
  open(/*small=*/true);
  ASSERT_EQ(write(pattern(kBig, 80)), TRELLIS_OK);
  ASSERT_GT(conn_->queued(), 0u);
  ASSERT_TRUE(turn_until([&] { return conn_ == nullptr; }, 20));
  EXPECT_EQ(session_.release_calls, 1);
  EXPECT_EQ(host_.in_use.load(), 0u);
  PeerRead r;
  ASSERT_TRUE(peer_read_to_end(r));
  EXPECT_EQ(r.err, ECONNRESET);
}

// A slow but steady reader: every read is progress, so the socket timeout
// starts afresh each time and a transfer longer than the timeout goes
// through. `as_file`: the response is a file range (sendfile), else bytes.
void ConnectionTest::steady_reader_outlasts_the_socket_timeout(bool as_file) {
  host_.lim.socket_timeout_ms = 150;
  session_.phase = TRELLIS_PHASE_BUSY;
  open(/*small=*/true);
  ASSERT_FALSE(HasFatalFailure());
  std::string content = pattern(600000, 90);
  TempFile f(content);
  ASSERT_GE(f.fd(), 0);
  trellis_chunk c = as_file ? file(f.fd(), 0, content.size()) : bytes(content);
  ASSERT_EQ(conn_->write(&c, 1, false), TRELLIS_OK);
  // The peer takes at most 16 KiB every 10 ms (a UNIX socket takes up to
  // 64 KiB of a file at once, so less would leave it without progress for
  // longer than the timeout).
  PeerRead r;
  auto t0 = std::chrono::steady_clock::now();
  auto next = t0;
  ASSERT_TRUE(turn_until([&] {
    auto now = std::chrono::steady_clock::now();
    if (now >= next) {
      char buf[16384];
      ssize_t n = ::recv(peer_, buf, sizeof buf, 0);
      if (n > 0) r.data.append(buf, static_cast<std::size_t>(n));
      if (n == 0) r.eof = true;
      if (n < 0 && errno != EAGAIN) r.err = errno;
      next = now + 10ms;
    }
    return r.data.size() >= content.size() || r.eof || r.err;
  }));
  auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(r.err, 0) << std::strerror(r.err) << " after " << r.data.size() << " bytes";
  EXPECT_FALSE(r.eof) << "after " << r.data.size() << " bytes";
  EXPECT_TRUE(r.data == content);
  EXPECT_NE(conn_, nullptr) << "cut by the socket timeout while the peer kept reading";
  EXPECT_GT(took, 300ms) << "too fast to cover the socket timeout: the test proves nothing";
}

TEST_P(ConnectionTest, ASteadyReaderOfQueuedBytesOutlastsTheSocketTimeout) {
  steady_reader_outlasts_the_socket_timeout(false);
}

TEST_P(ConnectionTest, ASteadyReaderOfAQueuedFileOutlastsTheSocketTimeout) {
  steady_reader_outlasts_the_socket_timeout(true);
}

// ---- blocking runtimes on the loop thread ----------------------------------------------------

TEST_P(ConnectionTest, PumpReadWaitsForBytesAndHandsThemToTheSession) {
  open();
  EXPECT_FALSE(conn_->pump_read(20)) << "nothing came";
  peer_send("body");
  ASSERT_TRUE(conn_->pump_read(5000));
  EXPECT_EQ(session_.received, "body");
  // Paused: the runtime asked for these bytes, so they come, and the pause stays.
  conn_->pause_reading(true);
  peer_send("more");
  ASSERT_TRUE(conn_->pump_read(5000));
  EXPECT_EQ(session_.received, "bodymore");
  peer_send("held");
  idle_turns(5);
  EXPECT_EQ(session_.received, "bodymore");
}

TEST_P(ConnectionTest, FlushBlockingSendsWhatThePeerMakesRoomFor) {
  open(/*small=*/true);
  std::string data = pattern(kBig, 95);
  ASSERT_EQ(write(data), TRELLIS_OK);
  std::size_t before = conn_->queued();
  ASSERT_GT(before, 0u);
  // (On TCP the peer's kernel may still absorb a little.)
  if (!tcp()) {
    EXPECT_FALSE(conn_->flush_blocking(20)) << "the peer reads nothing: nothing goes";
  }
  PeerRead r;
  while (conn_->queued() > 0) {
    peer_take(r);
    ASSERT_TRUE(conn_->flush_blocking(5000)) << conn_->queued() << " left";
  }
  ASSERT_TRUE(peer_read_until(r, [&](const PeerRead& x) { return x.data.size() >= data.size(); }));
  EXPECT_TRUE(r.data == data);
  EXPECT_TRUE(conn_->flush_blocking(0)) << "nothing queued";
}

// ---- draining ------------------------------------------------------------------------------

TEST_P(ConnectionTest, DrainReachesTheSessionWhileOpen) {
  open();
  conn_->drain();
  EXPECT_EQ(session_.drain_calls, 1);
  session_.closed = true;
  conn_->close(TRELLIS_CLOSE_GRACEFUL);
  conn_->drain();
  EXPECT_EQ(session_.drain_calls, 1) << "no on_drain after the close";
  EXPECT_EQ(session_.after_close, 0);
}

TEST_P(ConnectionTest, StartWhileDrainingTellsTheSessionFirst) {
  make_pair(false);
  ASSERT_EQ(::send(peer_, "x", 1, 0), 1);
  wait_readable(conn_fd_);
  conn_ = std::make_unique<Connection>(host_, conn_fd_, nullptr, listener_);
  conn_fd_ = -1;
  ASSERT_TRUE(conn_->open_session());
  conn_->start(true);
  EXPECT_EQ(session_.order, "dr");
}

TEST_P(ConnectionTest, TheInfoDescribesTheConnection) {
  open();
  const trellis_conn_info& i = conn_->info();
  EXPECT_EQ(i.size, sizeof(trellis_conn_info));
  EXPECT_EQ(std::string(i.socket_name.ptr, i.socket_name.len), socket_.address.text);
  if (tcp()) {
    EXPECT_EQ(i.flags & TRELLIS_CONN_UNIX, 0u);
    EXPECT_EQ(std::string(i.remote_addr.ptr, i.remote_addr.len), "127.0.0.1");
    EXPECT_NE(i.remote_port.len, 0u);
  } else {
    EXPECT_NE(i.flags & TRELLIS_CONN_UNIX, 0u);
    EXPECT_EQ(i.remote_addr.len, 0u);
  }
}

// ---- the session table check (open_session) -----------------------------------------------

// Each bad table is its own object: open_session remembers the last table it
// accepted by address.
constexpr trellis_session_table kNoReadSpace = {
    sizeof(trellis_session_table), nullptr, s_on_received, s_on_eof, s_on_writable, s_on_drain, s_phase, s_release};
constexpr trellis_session_table kNoOnReceived = {
    sizeof(trellis_session_table), s_read_space, nullptr, s_on_eof, s_on_writable, s_on_drain, s_phase, s_release};
constexpr trellis_session_table kNoOnEof = {sizeof(trellis_session_table), s_read_space, s_on_received, nullptr,
                                            s_on_writable, s_on_drain, s_phase, s_release};
constexpr trellis_session_table kNoPhase = {sizeof(trellis_session_table), s_read_space, s_on_received, s_on_eof,
                                            s_on_writable, s_on_drain, nullptr, s_release};
constexpr trellis_session_table kNoRelease = {sizeof(trellis_session_table), s_read_space, s_on_received, s_on_eof,
                                              s_on_writable, s_on_drain, s_phase, nullptr};
// From a plugin built against a smaller table: release lies past its end,
// so the core must not call it.
constexpr trellis_session_table kTooSmall = {offsetof(trellis_session_table, release), s_read_space, s_on_received,
                                             s_on_eof, s_on_writable, s_on_drain, s_phase, s_release};
constexpr trellis_session_table kTooSmallByOne = {sizeof(trellis_session_table) - 1, s_read_space, s_on_received,
                                                  s_on_eof, s_on_writable, s_on_drain, s_phase, s_release};

struct BadTable {
  const char* name;
  const trellis_session_table* table;
  bool release_callable;
};

class SessionTableTest : public ::testing::TestWithParam<BadTable> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(host_.ev.open());
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv_), 0);
    socket_.address.kind = trellis::net::Address::Kind::unix_path;
    socket_.address.text = "/test/fake.sock";
    protocol_.session = &session_;
  }
  void TearDown() override {
    if (sv_[1] >= 0) ::close(sv_[1]);
  }
  std::unique_ptr<Connection> make() {
    auto c = std::make_unique<Connection>(host_, sv_[0], nullptr, listener_);
    sv_[0] = -1;
    return c;
  }
  FakeHost host_;
  FakeSession session_;
  FakeProtocol protocol_;
  trellis::net::ListenSocket socket_;
  Listener listener_{&socket_, &kProtocol, &protocol_};
  int sv_[2] = {-1, -1};
};

TEST_P(SessionTableTest, IsRefusedAndTheSessionReleased) {
  protocol_.table = GetParam().table;
  auto conn = make();
  EXPECT_FALSE(conn->open_session());
  EXPECT_EQ(protocol_.opened, 1);
  EXPECT_EQ(session_.release_calls, GetParam().release_callable ? 1 : 0);
  conn.reset();  // as the worker does with a refused connection
  EXPECT_EQ(session_.release_calls, GetParam().release_callable ? 1 : 0) << "released twice";
  // The connection's socket was closed: the peer sees the end.
  char c;
  EXPECT_EQ(::recv(sv_[1], &c, 1, 0), 0);
}

TEST_P(SessionTableTest, IsRefusedEveryTimeNotOnlyTheFirst) {
  protocol_.table = GetParam().table;
  for (int i = 0; i < 2; ++i) {
    int sv[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
    Connection conn(host_, sv[0], nullptr, listener_);
    EXPECT_FALSE(conn.open_session()) << "attempt " << i;
    ::close(sv[1]);
  }
  EXPECT_EQ(session_.release_calls, GetParam().release_callable ? 2 : 0);
}

INSTANTIATE_TEST_SUITE_P(
    Bad, SessionTableTest,
    ::testing::Values(BadTable{"NoReadSpace", &kNoReadSpace, true}, BadTable{"NoOnReceived", &kNoOnReceived, true},
                      BadTable{"NoOnEof", &kNoOnEof, true}, BadTable{"NoPhase", &kNoPhase, true},
                      BadTable{"NoRelease", &kNoRelease, false}, BadTable{"TooSmall", &kTooSmall, false},
                      BadTable{"TooSmallByOne", &kTooSmallByOne, false}),
    [](const ::testing::TestParamInfo<BadTable>& i) { return std::string(i.param.name); });

class SessionTableOkTest : public SessionTableTest {};

TEST_F(SessionTableOkTest, AValidTableIsAcceptedAndReleasedOnceWithTheConnection) {
  protocol_.table = &kTable;
  auto conn = make();
  ASSERT_TRUE(conn->open_session());
  EXPECT_EQ(session_.release_calls, 0);
  conn.reset();
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_F(SessionTableOkTest, OnWritableAndOnDrainMayBeNull) {
  protocol_.table = &kMinimalTable;
  auto conn = make();
  ASSERT_TRUE(conn->open_session());
  conn->start(/*draining=*/true);  // no on_drain to call
  conn->drain();
  ASSERT_EQ(::send(sv_[1], "x", 1, 0), 1);
  ASSERT_TRUE(host_.ev.run_once(1000));
  EXPECT_EQ(session_.received, "x");
  EXPECT_EQ(session_.drain_calls, 0);
  conn.reset();
  EXPECT_EQ(session_.release_calls, 1);
}

TEST_F(SessionTableOkTest, AProtocolThatGivesNoSessionIsRefused) {
  protocol_.table = nullptr;
  auto conn = make();
  EXPECT_FALSE(conn->open_session());
  conn.reset();
  EXPECT_EQ(session_.release_calls, 0);
}

TEST_F(SessionTableOkTest, AfterABadTableAGoodOneIsStillAccepted) {
  protocol_.table = &kNoOnEof;
  {
    auto conn = make();
    EXPECT_FALSE(conn->open_session());
  }
  ::close(sv_[1]);
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv_), 0);
  protocol_.table = &kTable;
  auto conn = make();
  EXPECT_TRUE(conn->open_session());
}

}  // namespace
