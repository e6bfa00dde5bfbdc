"""HTTP/1.1 plugin against hostile or idle clients: slow heads cost a
buffer, not a thread (one worker, one thread stays responsive), and the
header / body / keep-alive timeouts close what they should."""
import socket
import struct
import time

import pytest

from http_support import TESTAPP, Client, module_server, request  # noqa: F401

HALF_HEAD = b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\nX-Slow: "


def test_stalled_and_idle_connections_do_not_block_a_fresh_request(module_server):
    s = module_server(*TESTAPP, "--processes", "1", "--threads", "1",
                      "--header-timeout", "60", "--keepalive-timeout", "60")
    stalled, idle = [], []
    try:
        for _ in range(200):
            c = Client(s.port, timeout=5)
            c.send(HALF_HEAD)
            stalled.append(c)
        for _ in range(200):
            c = Client(s.port, timeout=5)
            c.send(request("GET", "/bytes/1"))
            assert c.read_response().body == b"x"
            idle.append(c)

        start = time.monotonic()
        with Client(s.port, timeout=5) as fresh:
            fresh.send(request("GET", "/bytes/3"))
            r = fresh.read_response()
        elapsed = time.monotonic() - start
        assert r.status == 200 and r.body == b"xxx"
        assert elapsed < 2.0, f"a fresh request took {elapsed:.2f}s behind 400 slow/idle connections"

        # The stalled heads were kept, not dropped: finishing one is answered.
        for c in stalled[:5]:
            c.send(b"1\r\n\r\n")
            assert c.read_response().body == b"xxxxx"
        # And the idle keep-alive connections are still usable.
        for c in idle[:5]:
            c.send(request("GET", "/bytes/2"))
            assert c.read_response().body == b"xx"
    finally:
        for c in stalled + idle:
            c.close()


@pytest.fixture(scope="module")
def timeouts(module_server):
    return module_server(*TESTAPP, "--processes", "1", "--header-timeout", "2", "--keepalive-timeout", "1",
                         "--socket-timeout", "2")


def time_to_close(c, limit):
    start = time.monotonic()
    closed = c.closed_within(limit)
    return closed, time.monotonic() - start


def test_header_timeout_closes_a_stalled_half_request(timeouts):
    with Client(timeouts.port) as c:
        c.send(HALF_HEAD)
        closed, t = time_to_close(c, 6)
        assert closed, "a stalled head was not closed within 6 s (--header-timeout 2)"
        assert 1.5 <= t <= 4.0, f"closed after {t:.2f}s, expected ~2-4 s"
        assert b"HTTP/1.1 200" not in c.buf


def test_header_timeout_cannot_be_extended_by_trickling(timeouts):
    with Client(timeouts.port) as c:
        c.send(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 6:
            try:
                c.send(b"X-A: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            if c.closed_within(0.3):
                closed = True
                break
        t = time.monotonic() - start
        assert closed, "a trickling head kept the connection open past --header-timeout"
        assert t <= 4.5, f"closed after {t:.2f}s"


def test_keepalive_timeout_closes_an_idle_connection(timeouts):
    with Client(timeouts.port) as c:
        c.send(request("GET", "/bytes/2"))
        assert c.read_response().body == b"xx"
        closed, t = time_to_close(c, 5)
        assert closed, "an idle keep-alive connection was not closed within 5 s (--keepalive-timeout 1)"
        assert 0.8 <= t <= 3.0, f"closed after {t:.2f}s, expected ~1-3 s"
        assert c.buf == b""


@pytest.mark.parametrize("threads", ["1", "2"])
def test_keepalive_timeout_counts_from_the_last_response(module_server, threads):
    # A connection that is never idle for long must not be closed: the
    # keep-alive timeout is an idle timeout, not a connection lifetime.
    s = module_server(*TESTAPP, "--processes", "1", "--threads", threads, "--keepalive-timeout", "2")
    with Client(s.port) as c:
        start = time.monotonic()
        for i in range(7):  # one request every 0.6 s for ~4 s
            c.send(request("GET", "/bytes/1"))
            try:
                r = c.read_response()
            except Exception as e:  # noqa: BLE001
                pytest.fail(f"request {i}, {time.monotonic() - start:.1f}s after connecting, idle 0.6s: "
                            f"the server closed the keep-alive connection ({e})")
            assert r.body == b"x" and "close" not in r.connection_tokens()
            if i < 6:
                time.sleep(0.6)  # the behaviour under test: idle, but less than the timeout
        closed, t = time_to_close(c, 5)
        assert closed and 1.5 <= t <= 3.5, f"closed={closed} {t:.2f}s after the last response (timeout 2)"


def test_keepalive_timeout_applies_to_a_silent_new_connection(timeouts):
    with Client(timeouts.port) as c:
        closed, t = time_to_close(c, 5)
        assert closed and t <= 3.0, (closed, t)


def test_body_timeout_closes_a_stalled_body(timeouts):
    with Client(timeouts.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "100")]) + b"only a part")
        closed, t = time_to_close(c, 7)
        assert closed, "a stalled body was not closed within 7 s (--socket-timeout 2)"
        assert 1.5 <= t <= 4.5, f"closed after {t:.2f}s"


def test_slow_but_progressing_body_is_not_cut(timeouts):
    # The body timeout runs from the last progress, not from the start.
    with Client(timeouts.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "8")]))
        for b in b"trickled":
            time.sleep(0.45)  # 3.6 s in all, each gap well under --socket-timeout 2
            c.send(bytes([b]))
        r = c.read_response()
        assert r.status == 200 and r.body == b"trickled"


def test_server_still_serves_after_timeouts(timeouts):
    with Client(timeouts.port) as c:
        c.send(request("GET", "/bytes/4"))
        assert c.read_response().body == b"xxxx"


def test_slow_reader_is_cut_after_socket_timeout(module_server):
    # Writes block the (only) app thread for at most --socket-timeout: a
    # client that never reads its large response cannot stall the worker.
    s = module_server(*TESTAPP, "--processes", "1", "--threads", "1", "--socket-timeout", "2")
    slow = Client(s.port)
    try:
        slow.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        slow.send(request("GET", "/bytes/50000000"))
        # Its response has begun (peeked, not read): the app thread is the
        # one writing it when the fresh request comes.
        assert slow.sock.recv(1, socket.MSG_PEEK) == b"H"
        start = time.monotonic()
        with Client(s.port, timeout=10) as fresh:
            fresh.send(request("GET", "/bytes/3"))
            r = fresh.read_response()
        assert r.body == b"xxx"
        assert time.monotonic() - start < 4.5, "a non-reading client stalled the worker past --socket-timeout"
    finally:
        slow.close()


def test_garbage_flood_is_refused_quickly(module_server):
    # A non-HTTP client (TLS on the plain port) is refused at once rather
    # than waiting for the header timeout.
    s = module_server(*TESTAPP, "--processes", "1", "--header-timeout", "30")
    with Client(s.port) as c:
        start = time.monotonic()
        c.send(b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 100)
        r = c.read_response(timeout=3)
        assert r.status == 400
        assert time.monotonic() - start < 2
        assert c.read_until_close(timeout=4) == b""


def test_many_connections_opened_and_dropped(module_server):
    s = module_server(*TESTAPP, "--processes", "1")
    for i in range(300):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        if i % 3 == 0:
            sock.sendall(b"GET / HTTP/1.1\r\nHo")
        elif i % 3 == 1:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
        sock.close()
    with Client(s.port) as c:
        c.send(request("GET", "/bytes/2"))
        assert c.read_response().body == b"xx"
