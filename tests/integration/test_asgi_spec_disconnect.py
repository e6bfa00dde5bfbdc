"""ASGI black-box suite: `http.disconnect` (asgiref "HTTP & WebSocket ASGI
Message Format" 2.4, "Disconnect - receive event" and "Disconnected Client -
send exception").

"Sent to the application if receive is called after a response has been
sent or after the HTTP connection has been closed." Since spec version 2.4,
send() on a closed connection raises a server-specific subclass of OSError,
which the server must not log as an error when it comes back out.

Clients vanish with a reset (SO_LINGER 0), which the server sees at once:
a plain close is only a half-close in HTTP/1.1.
"""
import socket

from asgi_spec_support import asgi, http_request_bytes, recv_until, vanish  # noqa: F401
from conftest import http_get
from wsgi_support import RawConnection

APP = r'''
async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    path = scope["path"]
    if path == "/hold":
        # body complete, then a long poll: waits on receive() until the client goes
        await read_body(receive)
        note("hold.log", state="waiting")
        m = await receive()
        note("hold.log", state="received", event=m)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"too late"})
            note("hold.log", state="send returned")
        except BaseException as e:
            note("hold.log", state="send raised", exc=type(e).__name__,
                 mro=[c.__name__ for c in type(e).__mro__])
            raise
    elif path == "/upload":
        # reads a body the client never finishes
        while True:
            m = await receive()
            note("upload.log", event={"type": m["type"], "size": len(m.get("body", b"")),
                                      "more_body": m.get("more_body", False)})
            if m["type"] != "http.request" or not m.get("more_body", False):
                break
    elif path == "/stream":
        # streams until the client goes; a watcher task waits on receive()
        await read_body(receive)
        async def watch():
            m = await receive()
            note("stream.log", state="received", event=m["type"])
        watcher = asyncio.ensure_future(watch())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        i = 0
        try:
            while not watcher.done():
                await send({"type": "http.response.body", "body": b"x" * 1024, "more_body": True})
                i += 1
                if i == 1:
                    note("stream.log", state="streaming")
                await asyncio.sleep(0.01)
            note("stream.log", state="stopped", pieces=i)
        except OSError as e:
            note("stream.log", state="send raised", exc=type(e).__name__, pieces=i)
        await asyncio.wait_for(watcher, 10)
    elif path == "/after":
        # answers, then calls receive() again
        await read_body(receive)
        await respond(send, b"answered")
        m = await asyncio.wait_for(receive(), 10)
        note("after.log", event=m)
    else:
        await read_body(receive)
        await respond(send, b"hello")
'''


def test_a_client_vanishing_during_a_long_poll_reaches_receive_as_disconnect(asgi):
    s = asgi(APP)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(http_request_bytes("GET", "/hold"))
    assert s.wait_notes("hold.log")
    vanish(c)
    notes = s.wait_notes("hold.log", lambda ns: any(n["state"] == "received" for n in ns))
    received = [n for n in notes if n["state"] == "received"]
    assert received and received[0]["event"] == {"type": "http.disconnect"}, notes
    # The worker goes on serving.
    assert http_get(s.port, "/") == (200, b"hello")


def test_send_after_disconnect_raises_an_oserror_and_is_not_logged_as_an_error(asgi):
    """Spec 2.4: "If send() is called on a closed connection the server
    should raise a server-specific subclass of OSError"; "Servers must be
    prepared to catch this exception if they raised it and should not log it
    as an error in their server logs"."""
    s = asgi(APP)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(http_request_bytes("GET", "/hold"))
    assert s.wait_notes("hold.log")
    vanish(c)
    notes = s.wait_notes("hold.log", lambda ns: any(n["state"].startswith("send") for n in ns))
    outcome = [n for n in notes if n["state"].startswith("send")]
    assert outcome and outcome[0]["state"] == "send raised", notes
    assert "OSError" in outcome[0]["mro"], outcome
    # the application re-raised it: the server says nothing of it as an error
    assert http_get(s.port, "/") == (200, b"hello")
    assert "Traceback" not in s.log(), s.log()


def test_a_client_vanishing_mid_upload_ends_the_body_with_disconnect(asgi):
    s = asgi(APP)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n" + b"y" * 1000)
    assert s.wait_notes("upload.log", lambda ns: sum(n["event"]["size"] for n in ns) == 1000)
    vanish(c)
    notes = s.wait_notes("upload.log", lambda ns: ns[-1]["event"]["type"] != "http.request")
    events = [n["event"] for n in notes]
    assert events[-1] == {"type": "http.disconnect", "size": 0, "more_body": False}, events
    # before that, only pieces with more_body True: the body was never said complete
    assert all(e["type"] == "http.request" and e["more_body"] for e in events[:-1]), events
    assert sum(e["size"] for e in events) == 1000


def test_a_client_vanishing_mid_stream_stops_the_application(asgi):
    """The streaming application learns that its client left: its receive()
    watcher gets http.disconnect, or its send() raises (2.4); either way it
    stops instead of streaming into the void."""
    s = asgi(APP)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(http_request_bytes("GET", "/stream"))
    assert b"xxxx" in recv_until(c, b"xxxx")
    assert s.wait_notes("stream.log")
    vanish(c)
    notes = s.wait_notes("stream.log", lambda ns: any(n["state"] in ("stopped", "send raised") for n in ns))
    assert any(n["state"] in ("stopped", "send raised") for n in notes), notes
    received = s.wait_notes("stream.log", lambda ns: any(n["state"] == "received" for n in ns))
    assert [n["event"] for n in received if n["state"] == "received"] == ["http.disconnect"], received
    assert http_get(s.port, "/") == (200, b"hello")


def test_receive_after_the_response_is_sent_gives_disconnect(asgi):
    """"Sent to the application if receive is called after a response has
    been sent": it does not hang, even while the client stays connected."""
    s = asgi(APP)
    with RawConnection(s.port, timeout=10) as c:
        c.send(http_request_bytes("GET", "/after"))
        r = c.read_response()
        assert (r.status, r.body) == (200, b"answered")
        notes = s.wait_notes("after.log")
        assert notes and notes[0]["event"] == {"type": "http.disconnect"}, notes
        # and the keep-alive connection still serves
        c.send(http_request_bytes("GET", "/"))
        assert c.read_response().body == b"hello"


def test_other_connections_are_untouched_by_a_disconnect(asgi):
    s = asgi(APP)
    held = []
    for _ in range(5):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(http_request_bytes("GET", "/hold"))
        held.append(c)
    assert s.wait_notes("hold.log", lambda ns: sum(n["state"] == "waiting" for n in ns) == 5)
    vanish(held.pop(0))
    assert s.wait_notes("hold.log", lambda ns: sum(n["state"] == "received" for n in ns) == 1)
    assert http_get(s.port, "/") == (200, b"hello")
    # exactly one of the five was told of a disconnect
    assert sum(n["state"] == "received" for n in s.notes("hold.log")) == 1
    for c in held:
        vanish(c)
    notes = s.wait_notes("hold.log", lambda ns: sum(n["state"] == "received" for n in ns) == 5)
    assert sum(n["state"] == "received" for n in notes) == 5
