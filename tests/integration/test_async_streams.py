"""The SDK 2 request model end to end, with an asynchronous runtime
(tests/plugins/test_plugins/async_runtime_plugin.cpp) behind the real HTTP
plugin: requests held on one thread, completed from timers and from other
threads, bodies with flow control, clients that vanish, and a loop that
never blocks on a slow reader."""
import http.client
import socket
import struct
import threading
import time

import pytest

from conftest import TEST_PLUGIN_DIR, http_get, wait_until

ASYNC = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "asyncapp", "--plugin", "http"]


@pytest.fixture(params=["core loop", "driven loop"])
def server(request, server):
    """Every test twice: with the core running the worker's loop, and with
    asyncapp running it inside a poll() loop of its own (Runtime::run_loop,
    the way an asyncio runtime embeds it)."""
    if request.param == "core loop":
        return server

    def start(*args, **kw):
        kw["env"] = {**kw.get("env", {}), "ASYNCAPP_DRIVES_LOOP": "1"}
        s = server(*args, **kw)
        if "asyncapp" in args:
            assert s.wait_log("asyncapp: running the worker's loop in its own"), s.log()
        return s

    return start


def count(port):
    return int(http_get(port, "/count")[1])


def vanish(sock):
    """The client is gone: its connection resets (SO_LINGER 0). A plain
    close is a half-close to HTTP/1.1, whose requests are still answered
    (RFC 9112 §9.6), so only a write would reveal that the client left."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def test_requests_completed_from_timers_are_held_together_on_one_thread(server):
    s = server(*ASYNC, "--processes", "1", "--threads", "1")
    results = []

    def one():
        results.append(http_get(s.port, "/delay/1000", timeout=30))

    threads = [threading.Thread(target=one) for _ in range(100)]
    for t in threads:
        t.start()
    # All 100 are inside the one-thread worker at the same time (a blocking
    # worker would hold one at a time)...
    assert wait_until(lambda: count(s.port) == 100, timeout=10), count(s.port)
    for t in threads:
        t.join(30)
    # ...and each got its own answer.
    assert results == [(200, b"delayed 1000")] * 100
    assert count(s.port) == 0


def test_a_request_completed_from_another_thread(server):
    s = server(*ASYNC, "--processes", "1")
    assert http_get(s.port, "/thread/50") == (200, b"from a thread after 50")


def test_a_streamed_upload_is_echoed_as_it_arrives(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    c.sendall(b"5\r\nfirst\r\n")
    # The first piece comes back before the body is complete: the runtime
    # got it as an event, not after the whole upload.
    got = b""
    while b"first" not in got:
        chunk = c.recv(65536)
        assert chunk, got
        got += chunk
    assert got.startswith(b"HTTP/1.1 200 OK\r\n")
    c.sendall(b"6\r\nsecond\r\n0\r\n\r\n")
    while not got.endswith(b"0\r\n\r\n"):
        chunk = c.recv(65536)
        assert chunk, got
        got += chunk
    assert b"second" in got
    c.close()


def test_a_runtime_that_reads_nothing_stops_the_upload_not_the_worker(server):
    """/stall never consumes its body: the core keeps one window of it, the
    protocol stops reading, and the client's send blocks (TCP flow control)
    while the worker serves others."""
    s = server(*ASYNC, "--processes", "1", stats=True)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    total = 64 << 20
    c.sendall(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % total)
    c.setblocking(False)
    sent = 0
    piece = b"x" * 65536
    stalled_since = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            sent += c.send(piece)
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 1.0:
                break
            time.sleep(0.01)
    assert sent < total // 4, f"{sent} of {total} bytes went in: nothing held the upload back"
    # The worker is not stuck behind it.
    assert http_get(s.port, "/") == (200, b"async hello")
    # And the worker's memory holds the window, not the upload.
    [worker] = s.workers()
    with open(f"/proc/{worker}/status") as f:
        rss_kb = int(next(l for l in f if l.startswith("VmRSS")).split()[1])
    assert rss_kb < 64 * 1024, rss_kb
    vanish(c)
    assert s.wait_log("asyncapp: disconnect on /stall"), s.log()


def test_a_client_vanishing_reaches_the_runtime_as_an_event(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")
    assert wait_until(lambda: count(s.port) == 1)
    vanish(c)
    assert s.wait_log("asyncapp: disconnect on /hold"), s.log()
    assert wait_until(lambda: count(s.port) == 0)


def test_a_client_vanishing_mid_body_reaches_the_runtime(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"y" * 1000)
    assert wait_until(lambda: count(s.port) == 1)
    vanish(c)
    assert s.wait_log("asyncapp: disconnect on /stall"), s.log()
    assert wait_until(lambda: count(s.port) == 0)


def test_a_slow_reader_of_a_large_response_never_blocks_the_loop(server):
    """/big writes 32 MB as the connection drains (again -> writable): while
    one client reads nothing, the same single-threaded worker answers others."""
    s = server(*ASYNC, "--processes", "1")
    slow = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    slow.sendall(b"GET /big/33554432 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert wait_until(lambda: count(s.port) == 1)
    for _ in range(20):
        assert http_get(s.port, "/") == (200, b"async hello")
    # Now read it all: every byte arrives, in order.
    got = 0
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(65536)
    got = len(head.split(b"\r\n\r\n", 1)[1])
    while got < 33554432:
        chunk = slow.recv(1 << 20)
        assert chunk, got
        got += len(chunk)
    assert got == 33554432
    slow.close()


def test_graceful_stop_tells_held_requests_to_finish(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /stall HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc")
    assert wait_until(lambda: count(s.port) == 1)
    import signal
    s.send(signal.SIGTERM)
    got = b""
    while b"drained" not in got:
        chunk = c.recv(65536)
        assert chunk, got
        got += chunk
    assert got.startswith(b"HTTP/1.1 200 OK")
    c.close()
    assert s.proc.wait(timeout=15) == 0


@pytest.mark.parametrize("threads", ["1", "4"])
def test_a_blocking_runtime_beside_an_asynchronous_one_is_unchanged(server, threads):
    """testapp (blocking) still runs on application threads, reads its whole
    body, and writes with the high-water wait."""
    s = server("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http", "--processes", "1",
               "--threads", threads)
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    body = bytes(range(256)) * 20000
    conn.request("POST", "/echo", body=body)
    r = conn.getresponse()
    assert (r.status, r.read() == body) == (200, True)
    conn.request("GET", "/bytes/9000000")
    r = conn.getresponse()
    data = r.read()
    assert r.status == 200 and len(data) == 9000000
    conn.close()


def recv_until(sock, marker, limit=1 << 20):
    """Bytes up to and including `marker` (the socket's timeout bounds it)."""
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
        assert len(data) < limit
    return data


def test_an_upgraded_connection_carries_messages_both_ways(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    # The first bytes of the new protocol may follow the request at once.
    c.sendall(b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nhello")
    head = recv_until(c, b"\r\n\r\n")
    status, _, rest = head.partition(b"\r\n\r\n")
    lines = status.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 101 Switching Protocols"
    fields = {k.lower(): v.strip() for k, _, v in (l.partition(b":") for l in lines[1:])}
    assert fields[b"upgrade"] == b"echo"
    assert fields[b"connection"].lower() == b"upgrade"
    assert b"content-length" not in fields and b"transfer-encoding" not in fields
    echoed = rest + recv_until(c, b"hello") if b"hello" not in rest else rest
    assert echoed == b"hello"
    # What looks like HTTP is the other protocol's now, and no timeout of
    # HTTP's cuts the connection while it is quiet.
    c.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert recv_until(c, b"\r\n\r\n") == b"GET / HTTP/1.1\r\n\r\n"
    c.sendall(b"bye")
    assert recv_until(c, b"bye") == b"bye"
    c.settimeout(10)
    assert c.recv(100) == b""  # the runtime ended it: the connection closes
    c.close()
    assert wait_until(lambda: count(s.port) == 0)


def test_an_upgraded_client_that_leaves_ends_the_stream(server):
    s = server(*ASYNC, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
    assert recv_until(c, b"\r\n\r\n").startswith(b"HTTP/1.1 101 ")
    assert count(s.port) == 1
    c.close()  # after the switch, a FIN is the other protocol's end
    assert wait_until(lambda: count(s.port) == 0)


def test_an_upgrade_not_offered_is_not_made(server):
    s = server(*ASYNC, "--processes", "1")
    assert http_get(s.port, "/upgrade")[0] == 426
    # Offered another protocol than the runtime speaks: declined the same way.
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /upgrade HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    assert recv_until(c, b"\r\n\r\n").startswith(b"HTTP/1.1 426 ")
    c.close()


def test_finishing_without_a_head_is_refused_and_the_client_still_gets_an_answer(server):
    s = server(*ASYNC, "--processes", "1")
    assert http_get(s.port, "/finish_only") == (500, b"Internal Server Error\n")
    assert s.wait_log("asyncapp: finish before start refused"), s.log()
    assert http_get(s.port, "/") == (200, b"async hello")


def test_a_writer_held_back_by_the_worker_budget_resumes_when_it_has_room(server):
    """--write-buffer 64 KiB gives the worker 1.5 MiB of output in all. A
    client that uploads to /echo and reads nothing fills it (asyncapp echoes
    on regardless); another client's /big is then held back by the budget,
    not by its own connection, and must go on once the first client leaves."""
    s = server(*ASYNC, "--processes", "1", "--write-buffer", "65536")
    hog = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    hog.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    hog.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
    piece = memoryview(b"%x\r\n%s\r\n" % (65536, b"e" * 65536))
    hog.setblocking(False)
    pushed = offset = 0
    deadline = time.monotonic() + 5
    while pushed < (40 << 20) and time.monotonic() < deadline:
        try:
            sent = hog.send(piece[offset:])
        except BlockingIOError:
            time.sleep(0.01)
            continue
        pushed += sent
        offset = (offset + sent) % len(piece)
    assert pushed > (4 << 20), f"only {pushed} bytes went in"
    size = 3000000
    big = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    big.sendall(b"GET /big/%d HTTP/1.1\r\nHost: t\r\n\r\n" % size)
    got = b""
    big.settimeout(1.5)
    try:
        while True:
            chunk = big.recv(65536)
            if not chunk:
                break
            got += chunk
    except socket.timeout:
        pass
    head, _, body = got.partition(b"\r\n\r\n")
    assert len(body) < size, "the budget did not hold the response back"
    vanish(hog)
    big.settimeout(20)
    while len(body) < size:
        chunk = big.recv(65536)
        assert chunk, f"the response stopped at {len(body)} of {size} bytes"
        body += chunk
    assert body == b"x" * size
    big.close()


def test_pipelined_requests_answered_one_after_another_all_come_back_promptly(server):
    """Each answer lets the protocol open the next pipelined request. In
    the driven loop those answers come from the runtime's own timers,
    between the worker's turns: the request opened there must wake the
    loop at once, not wait for its next timer (about a second each)."""
    s = server(*ASYNC, "--processes", "1")
    n = 20
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /delay/1 HTTP/1.1\r\nHost: t\r\n\r\n" * n)
    deadline = time.monotonic() + 8
    data = b""
    while data.count(b"delayed 1") < n and time.monotonic() < deadline:
        c.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = c.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    c.close()
    assert data.count(b"HTTP/1.1 200 OK") == n and data.count(b"delayed 1") == n, data[-300:]
