"""ASGI black-box suite: the response (asgiref "HTTP & WebSocket ASGI Message
Format" 2.4, "Response Start" and "Response Body" send events): status and
headers as given, streaming with more_body (chunked on the wire when the
application gives no Content-Length), flushing on every send, HEAD, flow
control towards a slow reader, and many requests in flight in one worker.
"""
import hashlib
import socket
import threading
import time

import pytest

from asgi_spec_support import asgi, http_request_bytes, recv_until  # noqa: F401
from conftest import http_get
from wsgi_support import RawConnection

# /status/N        : status N, body "status N" (none for 204/304)
# /headers         : headers in a given order with repeats
# /stream?n=&size= : n pieces of size bytes, no content-length
# /empty-pieces    : pieces with b"" in the middle, no content-length
# /length          : content-length given, body in 3 pieces
# /gated           : first piece, then waits for the "more" gate, then the rest
# /te              : the application sets its own transfer-encoding header
APP = r'''
from urllib.parse import parse_qs

async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    await read_body(receive)
    q = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
    path = scope["path"]
    if path.startswith("/status/"):
        status = int(path.split("/")[2])
        body = b"" if status in (204, 304) else b"status %d" % status
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": body})
    elif path == "/headers":
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"x-order", b"1"), (b"set-cookie", b"a=1; Path=/"), (b"x-order", b"2"),
            (b"content-type", b"text/plain"), (b"set-cookie", b"b=2; Path=/"), (b"x-order", b"3"),
            (b"x-empty", b""), (b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"ok"})
    elif path == "/no-headers-key":
        await send({"type": "http.response.start", "status": 200})
        await send({"type": "http.response.body", "body": b"defaults"})
    elif path == "/no-body-key":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"0")]})
        await send({"type": "http.response.body"})
    elif path == "/stream":
        n, size = int(q.get("n", "5")), int(q.get("size", "10"))
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for i in range(n):
            await send({"type": "http.response.body", "body": (b"%d" % (i % 10)) * size, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
    elif path == "/empty-pieces":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for piece in (b"one", b"", b"two", b"", b"", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        await send({"type": "http.response.body", "more_body": False})
    elif path == "/length":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"15")]})
        for piece in (b"01234", b"56789", b"abcde"):
            await send({"type": "http.response.body", "body": piece, "more_body": piece != b"abcde"})
    elif path == "/gated":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first|", "more_body": True})
        note("gated.log", sent="first")
        await wait_file("more")
        await send({"type": "http.response.body", "body": b"second|", "more_body": True})
        note("gated.log", sent="second")
        await wait_file("end")
        await send({"type": "http.response.body", "body": b"last"})
    elif path == "/te":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"transfer-encoding", b"chunked"), (b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"hello ", "more_body": True})
        await send({"type": "http.response.body", "body": b"world"})
    elif path == "/big":
        import random
        size = int(q["size"])
        data = random.Random(7).randbytes(size)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        step = 1 << 20
        for i in range(0, size, step):
            await send({"type": "http.response.body", "body": data[i:i + step], "more_body": True})
            note("big.log", sent=min(i + step, size))
        await send({"type": "http.response.body", "body": b""})
    else:
        await respond(send, b"hello")
'''


def raw(port, method, target, version="HTTP/1.1", headers=()):
    with RawConnection(port) as c:
        c.send(http_request_bytes(method, target, list(headers) + [("Connection", "close")], version=version))
        r = c.read_response(head_request=method == "HEAD")
        r.closed_after = c.at_eof()
        return r


@pytest.mark.parametrize("status", [200, 201, 202, 204, 301, 304, 400, 404, 418, 451, 500, 503])
def test_status_is_sent_as_given(asgi, status):
    s = asgi(APP)
    r = raw(s.port, "GET", f"/status/{status}")
    assert r.status == status, r.raw
    assert r.status_line.startswith(b"HTTP/1.1 %d" % status)
    if status in (204, 304):
        assert r.body == b""
        assert r.header("transfer-encoding") is None and r.header("content-length") in (None, "0")
    else:
        assert r.body == b"status %d" % status


def test_headers_keep_their_order_and_repeats(asgi):
    s = asgi(APP)
    r = raw(s.port, "GET", "/headers")
    assert r.status == 200 and r.body == b"ok"
    ours = [(n, v) for n, v in r.headers if n in ("x-order", "set-cookie", "x-empty")]
    assert ours == [("x-order", "1"), ("set-cookie", "a=1; Path=/"), ("x-order", "2"),
                    ("set-cookie", "b=2; Path=/"), ("x-order", "3"), ("x-empty", "")]
    assert r.header("content-type") == "text/plain"
    assert [v for n, v in r.headers if n == "content-length"] == ["2"]


def test_headers_and_body_keys_are_optional(asgi):
    s = asgi(APP)
    r = raw(s.port, "GET", "/no-headers-key")
    assert (r.status, r.body, r.complete) == (200, b"defaults", True)
    r = raw(s.port, "GET", "/no-body-key")
    assert (r.status, r.body, r.complete) == (200, b"", True)


def test_a_streamed_response_without_length_is_chunked_on_the_wire(asgi):
    s = asgi(APP)
    r = raw(s.port, "GET", "/stream?n=5&size=10")
    assert r.status == 200
    assert r.header("transfer-encoding") == "chunked", r.headers
    assert r.header("content-length") is None
    assert r.complete, r.raw
    assert r.body == b"".join((b"%d" % i) * 10 for i in range(5))
    # chunk framing really is on the wire (not a close-delimited body)
    assert r.raw.endswith(b"0\r\n\r\n"), r.raw[-40:]


def test_empty_pieces_do_not_end_a_chunked_response_early(asgi):
    """An empty body with more_body True sends nothing: a server that wrote
    an empty chunk would send the last-chunk marker "0\\r\\n\\r\\n" early."""
    s = asgi(APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("GET", "/empty-pieces") + http_request_bytes("GET", "/status/200"))
        r = c.read_response()
        assert (r.status, r.body, r.complete) == (200, b"onetwothree", True)
        # the connection is still in step: the next response parses
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, b"status 200")


def test_a_response_with_content_length_is_sent_in_pieces_and_not_chunked(asgi):
    s = asgi(APP)
    r = raw(s.port, "GET", "/length")
    assert (r.status, r.body, r.complete) == (200, b"0123456789abcde", True)
    assert r.header("content-length") == "15"
    assert r.header("transfer-encoding") is None


def test_an_http10_client_gets_the_stream_delimited_by_close(asgi):
    """RFC 9112 7.1: chunked is HTTP/1.1 only, so a server "MUST NOT send"
    it to a 1.0 client; without a length the body ends with the connection."""
    s = asgi(APP)
    r = raw(s.port, "GET", "/stream?n=3&size=4", version="HTTP/1.0")
    assert r.status == 200
    # HTTP/1.0 has no chunked coding: never "Transfer-Encoding: chunked"
    assert r.header("transfer-encoding") is None
    assert r.body == b"000011112222"
    assert r.closed_after


def test_each_send_is_flushed_to_the_client_before_the_next(asgi):
    """"Protocol servers must flush any data passed to them into the send
    buffer before returning from a send call": the client reads each piece
    while the application is still waiting to send the next one."""
    s = asgi(APP)
    with RawConnection(s.port, timeout=10) as c:
        c.send(http_request_bytes("GET", "/gated", [("Connection", "close")]))
        got = recv_until(c.sock, b"first|")
        assert b"first|" in got, got
        assert got.startswith(b"HTTP/1.1 200"), got
        assert b"second|" not in got
        s.open_gate("more")
        got += recv_until(c.sock, b"second|")
        assert b"second|" in got and b"last" not in got
        s.open_gate("end")
        rest = recv_until(c.sock, b"0\r\n\r\n")
    assert b"last" in rest and rest.endswith(b"0\r\n\r\n")


def test_a_transfer_encoding_header_from_the_application_does_not_break_framing(asgi):
    """"You may send a Transfer-Encoding header ... but the server must
    ignore it" (the server does its own framing): one transfer-encoding at
    most, never beside a content-length, and a body that parses."""
    s = asgi(APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("GET", "/te") + http_request_bytes("GET", "/status/200"))
        r = c.read_response()
        assert (r.status, r.body, r.complete) == (200, b"hello world", True), r.raw
        te = [v for n, v in r.headers if n == "transfer-encoding"]
        assert len(te) <= 1, r.headers
        assert not (te and r.header("content-length")), r.headers
        assert c.read_response().body == b"status 200"


@pytest.mark.parametrize("target", ["/", "/stream?n=3&size=5", "/length"])
def test_head_sends_no_body(asgi, target):
    s = asgi(APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("HEAD", target))
        r = c.read_response(head_request=True)
        assert r.status == 200
        if target == "/length":
            assert r.header("content-length") == "15"  # the application's length is kept
        # The next response on the connection starts right after the head:
        # any body bytes sent for HEAD would be read as its status line.
        c.send(http_request_bytes("GET", "/status/201"))
        r2 = c.read_response()
        assert (r2.status, r2.body) == (201, b"status 201"), r2.raw


def test_a_large_streamed_response_arrives_whole(asgi):
    import random
    s = asgi(APP)
    size = 16 * 1024 * 1024 + 5
    with RawConnection(s.port, timeout=60) as c:
        c.send(http_request_bytes("GET", f"/big?size={size}", [("Connection", "close")]))
        r = c.read_response()
    assert r.status == 200 and r.complete
    assert len(r.body) == size
    assert hashlib.sha256(r.body).digest() == hashlib.sha256(random.Random(7).randbytes(size)).digest()


def test_send_waits_for_a_slow_reader(asgi):
    """Flow control: the application's send() does not return while the
    client reads nothing and the socket buffers are full, so 64 MiB is not
    queued in the server; the client then gets every byte."""
    import random
    s = asgi(APP)
    size = 64 * 1024 * 1024
    c = socket.create_connection(("127.0.0.1", s.port), timeout=60)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    c.sendall(http_request_bytes("GET", f"/big?size={size}", [("Connection", "close")]))
    assert s.wait_notes("big.log")

    def progress():
        ns = s.notes("big.log")
        return ns[-1]["sent"] if ns else 0
    # Wait until the application's progress stops for a second.
    last, since = -1, time.monotonic()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = progress()
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 1.0:
            break
        time.sleep(0.05)
    assert last < size // 3, f"the application sent {last} of {size} bytes to a client that read nothing"
    h = hashlib.sha256()
    got = b""
    while b"\r\n\r\n" not in got:
        got += c.recv(65536)
    head, rest = got.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200")
    data = bytearray(rest)
    while True:
        chunk = c.recv(1 << 20)
        if not chunk:
            break
        data += chunk
    c.close()
    # de-chunk (no content-length was given)
    body = bytearray()
    i = 0
    while True:
        j = data.index(b"\r\n", i)
        n = int(bytes(data[i:j]).split(b";")[0], 16)
        if n == 0:
            break
        body += data[j + 2:j + 2 + n]
        i = j + 2 + n + 2
    assert len(body) == size
    h.update(body)
    assert h.digest() == hashlib.sha256(random.Random(7).randbytes(size)).digest()


def test_hundreds_of_requests_are_in_flight_at_once_in_one_worker(asgi):
    """ASGI applications run concurrently: 200 requests, each waiting until
    all 200 have arrived, complete in one process with one event loop. A
    server that ran them one at a time (or N at a time, N < 200) would never
    release them."""
    s = asgi(r'''
ARRIVED = 0
ALL_IN = None

async def app(scope, receive, send):
    global ARRIVED, ALL_IN
    if await lifespan(scope, receive, send):
        return
    await read_body(receive)
    if scope["path"] == "/count":
        await respond(send, b"%d" % ARRIVED)
        return
    if ALL_IN is None:
        ALL_IN = asyncio.Event()
    ARRIVED += 1
    if ARRIVED >= 200:
        ALL_IN.set()
    await asyncio.wait_for(ALL_IN.wait(), 60)
    await respond(send, b"released %d" % os.getpid())
''')
    results = []
    lock = threading.Lock()

    def one():
        r = http_get(s.port, "/wait", timeout=60)
        with lock:
            results.append(r)

    threads = [threading.Thread(target=one) for _ in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert len(results) == 200
    assert {st for st, _ in results} == {200}
    # one process answered them all
    assert len({b for _, b in results}) == 1
