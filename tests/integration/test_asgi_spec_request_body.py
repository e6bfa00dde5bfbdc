"""ASGI black-box suite: the request body as `http.request` events
(asgiref "HTTP & WebSocket ASGI Message Format" 2.4, "Request - receive
event"), flow control of the upload, and `Expect: 100-continue`.

The applications note each event they receive (STATE/events.log) as it
arrives, so a test can see that a piece reached the application before the
client sent the next one: the body is delivered as it arrives, not after.
"""
import hashlib
import os
import socket
import time

from asgi_spec_support import ECHO_APP, asgi, dec, http_request_bytes  # noqa: F401
from wsgi_support import RawConnection

# Notes every event in events.log as it arrives, then answers with the body's
# length and sha256 and the list of events (sizes and more_body flags).
LOGGING_APP = r'''
import hashlib

async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    h, length, events = hashlib.sha256(), 0, []
    while True:
        m = await receive()
        note("events.log", type=m["type"], body=m.get("body", b"")[:64], size=len(m.get("body", b"")),
             more_body=m.get("more_body", False), keys=sorted(m))
        events.append({"type": m["type"], "size": len(m.get("body", b"")), "more_body": m.get("more_body", False)})
        if m["type"] != "http.request":
            break
        h.update(m.get("body", b""))
        length += len(m.get("body", b""))
        if not m.get("more_body", False):
            break
    await respond_json(send, {"length": length, "sha256": h.hexdigest(), "events": events})
'''


def sha(b):
    return hashlib.sha256(b).hexdigest()


def payload(n):
    return os.urandom(n)


def check_events(events):
    """Spec: every event is http.request; all but the last have more_body
    True, the last False."""
    assert events, events
    assert all(e["type"] == "http.request" for e in events), events
    assert all(e["more_body"] for e in events[:-1]), events
    assert events[-1]["more_body"] is False, events


def test_a_request_without_body_is_one_event_with_empty_body(asgi):
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("GET", "/", [("Connection", "close")]))
        r = c.read_response()
    out = dec(r.json())
    [event] = out["events"]
    assert event["type"] == "http.request"
    # body and more_body are optional, defaulting to b"" and False.
    assert event.get("body", b"") == b""
    assert event.get("more_body", False) is False
    assert isinstance(event.get("body", b""), bytes)


def test_a_small_body_with_content_length(asgi):
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("POST", "/", [("Connection", "close")], b"hello=world&x=1"))
        out = dec(c.read_response().json())
    assert out["body"] == b"hello=world&x=1"
    assert out["events"][-1].get("more_body", False) is False
    assert all(isinstance(e.get("body", b""), bytes) for e in out["events"])


def test_an_empty_body_with_content_length_zero(asgi):
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        c.send(http_request_bytes("POST", "/", [("Content-Length", "0"), ("Connection", "close")]))
        out = dec(c.read_response().json())
    assert out["body"] == b""
    assert out["events"][-1].get("more_body", False) is False


def test_a_large_body_arrives_whole_in_order(asgi):
    s = asgi(LOGGING_APP)
    body = payload(8 * 1024 * 1024 + 13)
    with RawConnection(s.port, timeout=60) as c:
        c.send(http_request_bytes("PUT", "/big", [("Connection", "close")], body))
        out = dec(c.read_response().json())
    assert (out["length"], out["sha256"]) == (len(body), sha(body))
    check_events(out["events"])


def test_a_chunked_upload_is_dechunked_and_delivered_piece_by_piece(asgi):
    """Each chunk reaches the application (more_body True) before the client
    sends the next one; the last event has more_body False; the bodies are
    the decoded chunk contents, never the chunk framing."""
    s = asgi(LOGGING_APP)
    pieces = [b"first piece|", b"second;piece|", b"0\r\nnot-a-terminator|", b"last"]
    with RawConnection(s.port, timeout=20) as c:
        c.send(b"POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        for i, piece in enumerate(pieces):
            c.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            # wait until the application has seen this much before sending more
            want = b"".join(pieces[:i + 1])
            notes = s.wait_notes("events.log", lambda ns: b"".join(n["body"] for n in ns) == want, timeout=10)
            assert b"".join(n["body"] for n in notes) == want, notes
            assert all(n["more_body"] for n in notes), notes
        c.send(b"0\r\n\r\n")
        out = dec(c.read_response().json())
    body = b"".join(pieces)
    assert (out["length"], out["sha256"]) == (len(body), sha(body))
    check_events(out["events"])
    # the application saw more than one event: the body was not gathered first
    assert len(out["events"]) >= len(pieces)


def test_a_content_length_body_sent_in_pieces_is_delivered_as_it_arrives(asgi):
    s = asgi(LOGGING_APP)
    pieces = [b"a" * 1000, b"b" * 5000, b"c" * 3]
    total = sum(map(len, pieces))
    with RawConnection(s.port, timeout=20) as c:
        c.send(b"POST /cl HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % total)
        sent = 0
        for piece in pieces[:-1]:
            c.send(piece)
            sent += len(piece)
            notes = s.wait_notes("events.log", lambda ns: sum(n["size"] for n in ns) == sent, timeout=10)
            assert sum(n["size"] for n in notes) == sent, notes
            assert all(n["more_body"] for n in notes), notes
        c.send(pieces[-1])
        out = dec(c.read_response().json())
    assert out["length"] == total
    check_events(out["events"])


def test_chunk_extensions_and_trailers_are_not_part_of_the_body(asgi):
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        c.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        out = dec(c.read_response().json())
    assert out["body"] == b"hello world"


def test_bodies_of_keepalive_requests_do_not_bleed_into_each_other(asgi):
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        # two requests in one write (pipelined), then a chunked one
        c.send(http_request_bytes("POST", "/1", body=b"one") + http_request_bytes("POST", "/2", body=b"two-two"))
        r1, r2 = dec(c.read_response().json()), dec(c.read_response().json())
        c.send(b"POST /3 HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nthr\r\n2\r\nee\r\n0\r\n\r\n")
        r3 = dec(c.read_response().json())
        c.send(http_request_bytes("GET", "/4"))
        r4 = dec(c.read_response().json())
    assert [(r["scope"]["path"], r["body"]) for r in (r1, r2, r3, r4)] == \
        [("/1", b"one"), ("/2", b"two-two"), ("/3", b"three"), ("/4", b"")]


def test_an_unread_upload_is_held_back_not_buffered(asgi):
    """Flow control: an application that does not call receive() stops the
    upload (the server reads a bounded amount, then TCP pushes back on the
    client); once the application reads, all of it arrives intact."""
    s = asgi(r'''
import hashlib

async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    note("held.log", path=scope["path"])
    await wait_file("release")
    h, n = hashlib.sha256(), 0
    while True:
        m = await receive()
        h.update(m.get("body", b""))
        n += len(m.get("body", b""))
        if not m.get("more_body", False):
            break
    await respond_json(send, {"length": n, "sha256": h.hexdigest()})
''')
    total = 64 << 20
    c = socket.create_connection(("127.0.0.1", s.port), timeout=30)
    c.sendall(b"POST /held HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % total)
    assert s.wait_notes("held.log")
    c.setblocking(False)
    piece = bytes(range(256)) * 256  # 64 KiB
    sent = 0
    stalled_since = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sent < total:
        try:
            sent += c.send(piece[: min(len(piece), total - sent)])
            stalled_since = None
        except BlockingIOError:
            stalled_since = stalled_since or time.monotonic()
            if time.monotonic() - stalled_since > 1.0:
                break
            time.sleep(0.01)
    assert sent < total // 4, f"{sent} of {total} bytes went in while the application read nothing"
    # Now the application reads: the rest goes in and the body is whole.
    s.open_gate("release")
    c.setblocking(True)
    while sent < total:
        n = min(len(piece), total - sent)
        c.sendall(piece[:n])
        sent += n
    data = b""
    while b"}" not in data:
        chunk = c.recv(65536)
        assert chunk, data
        data += chunk
    c.close()
    body = (piece * (total // len(piece)))
    assert b"200" in data.split(b"\r\n", 1)[0]
    import json
    out = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert out == {"length": total, "sha256": sha(body)}


# ------------------------------------------------------------ Expect: 100-continue

EXPECT_APP = r'''
async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    if scope["path"] == "/reject":
        # answers without ever calling receive()
        await respond(send, b"too large", status=413)
        return
    await wait_file("go")
    note("receiving.log", path=scope["path"])
    body, _ = await read_body(receive)
    await respond(send, b"got " + body)
'''


def test_expect_100_continue_is_answered_once_the_application_awaits_the_body(asgi):
    s = asgi(EXPECT_APP)
    with RawConnection(s.port, timeout=10) as c:
        c.send(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
               b"Connection: close\r\n\r\n")
        # Not before the application asks for the body: nothing comes while
        # it waits for its gate...
        c.sock.settimeout(0.5)
        try:
            early = c.sock.recv(65536)
        except socket.timeout:
            early = b""
        assert early == b"", early
        c.sock.settimeout(10)
        # ...then the application calls receive(): "100 Continue" comes.
        s.open_gate("go")
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.sock.recv(1)
            assert chunk, head
            head += chunk
        assert head.startswith(b"HTTP/1.1 100"), head
        c.send(b"hello")
        r = c.read_response()
    assert (r.status, r.body) == (200, b"got hello")


def test_expect_100_continue_is_not_sent_when_the_application_answers_without_reading(asgi):
    s = asgi(EXPECT_APP)
    with RawConnection(s.port, timeout=10) as c:
        c.send(b"POST /reject HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n")
        r = c.read_response()
    # The first (and only) response is the final one: no 100 Continue before it.
    assert r.status == 413, r.raw
    assert r.body == b"too large"


def test_expect_100_continue_with_a_client_that_sends_the_body_anyway(asgi):
    s = asgi(EXPECT_APP)
    s.open_gate("go")
    with RawConnection(s.port, timeout=10) as c:
        c.send(b"POST /read HTTP/1.1\r\nHost: t\r\nContent-Length: 7\r\nExpect: 100-continue\r\n"
               b"Connection: close\r\n\r\nanyway!")
        r = c.read_response()
        while r.status == 100:
            r = c.read_response()
    assert (r.status, r.body) == (200, b"got anyway!")
