"""ASGI black-box suite: applications that fail (asgiref "ASGI" main spec,
"Error Handling"; HTTP spec 2.4 "Response Start").

- an exception before http.response.start: the client gets a 500;
- an exception after the response started: the connection is cut, so the
  client sees an incomplete response and never mistakes it for a whole one
  ("they must terminate the application instance and its associated
  connection");
- an application that returns without responding: 500;
- invalid events sent by the application: send() raises inside the
  application ("it should raise an exception out of the send awaitable").
The worker survives all of these and the server logs the exception.
"""
import pytest

from asgi_spec_support import asgi, http_request_bytes  # noqa: F401
from conftest import http_get
from wsgi_support import RawConnection

APP = r'''
async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    await read_body(receive)
    path = scope["path"]
    start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
    if path == "/raise-before-start":
        raise RuntimeError("boom before start")
    elif path == "/raise-after-start":
        await send(start)
        raise RuntimeError("boom after start")
    elif path == "/raise-mid-stream":
        await send(start)
        await send({"type": "http.response.body", "body": b"partial-", "more_body": True})
        raise RuntimeError("boom mid stream")
    elif path == "/raise-mid-length":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"ten bytes!", "more_body": True})
        raise RuntimeError("boom mid length")
    elif path == "/return-without-response":
        return
    elif path == "/return-after-start":
        await send(start)
        return
    elif path == "/return-mid-stream":
        await send(start)
        await send({"type": "http.response.body", "body": b"partial-", "more_body": True})
        return
    elif path.startswith("/invalid/"):
        event = {
            "body-before-start": {"type": "http.response.body", "body": b"x"},
            "unknown-type": {"type": "http.response.bogus"},
            "str-status": {"type": "http.response.start", "status": "200 OK", "headers": []},
            "str-header": {"type": "http.response.start", "status": 200, "headers": [("x-a", "b")]},
            "str-body": {"type": "http.response.body", "body": "text"},
        }[path.split("/")[2]]
        if event["type"] == "http.response.body" and event.get("body") == "text":
            await send(start)
        try:
            await send(event)
            outcome = "accepted"
        except Exception as e:
            outcome = "raised " + type(e).__name__
        note("invalid.log", outcome=outcome)
        try:  # the response still goes out after a refused event, if it can
            if event["type"] == "http.response.body" and event.get("body") == "text":
                await send({"type": "http.response.body", "body": b"fine"})
            else:
                await respond(send, b"fine")
        except Exception:
            pass
    elif path == "/start-twice":
        await send(start)
        try:
            await send(start)
            outcome = "accepted"
        except Exception as e:
            outcome = "raised " + type(e).__name__
        note("twice.log", outcome=outcome)
        await send({"type": "http.response.body", "body": b"once"})
    elif path == "/send-after-end":
        await respond(send, b"done")
        try:
            await send({"type": "http.response.body", "body": b"extra"})
            outcome = "accepted"
        except Exception as e:
            outcome = "raised " + type(e).__name__
        note("after-end.log", outcome=outcome)
    else:
        await respond(send, b"hello")
'''


def get(port, path):
    """The response to one GET on a fresh connection, and whether the
    server then closed it."""
    with RawConnection(port, timeout=10) as c:
        c.send(http_request_bytes("GET", path))
        try:
            r = c.read_response()
        except EOFError:
            r = None  # the connection ended before a whole head
        return r, c.eof or c.reset or c.at_eof(2.0)


def test_an_exception_before_the_response_gives_500_and_is_logged(asgi):
    s = asgi(APP)
    r, _ = get(s.port, "/raise-before-start")
    assert r is not None and r.status == 500 and r.complete, r and r.raw
    assert s.wait_log("boom before start"), s.log()
    assert http_get(s.port, "/") == (200, b"hello")


def test_an_application_that_returns_without_responding_gives_500(asgi):
    s = asgi(APP)
    r, _ = get(s.port, "/return-without-response")
    assert r is not None and r.status == 500 and r.complete, r and r.raw
    assert http_get(s.port, "/") == (200, b"hello")


@pytest.mark.parametrize("path", ["/raise-mid-stream", "/return-mid-stream"])
def test_a_failure_in_the_middle_of_a_chunked_stream_cuts_the_connection(asgi, path):
    """The client must be able to tell: the body it got is not terminated
    (no last chunk) and the connection is closed."""
    s = asgi(APP)
    r, closed = get(s.port, path)
    assert r is not None and r.status == 200
    assert r.body == b"partial-"
    assert not r.complete, r.raw
    assert closed
    if path.startswith("/raise"):
        assert s.wait_log("boom mid stream"), s.log()
    assert http_get(s.port, "/") == (200, b"hello")


def test_a_failure_in_the_middle_of_a_sized_body_cuts_the_connection(asgi):
    s = asgi(APP)
    r, closed = get(s.port, "/raise-mid-length")
    assert r is not None and r.status == 200
    assert r.header("content-length") == "100"
    assert r.body == b"ten bytes!" and not r.complete
    assert closed
    assert http_get(s.port, "/") == (200, b"hello")


@pytest.mark.parametrize("path", ["/raise-after-start", "/return-after-start"])
def test_a_failure_after_the_start_is_never_a_complete_success(asgi, path):
    """After http.response.start but before any body the server may still
    replace the response with a 500 (it "need not flush" the start), or cut
    the connection: what it must not do is hand over a complete 200."""
    s = asgi(APP)
    r, closed = get(s.port, path)
    if r is not None and r.status == 200:
        assert not r.complete and closed, r.raw
    else:
        assert r is None or r.status == 500, r.raw
    assert http_get(s.port, "/") == (200, b"hello")


@pytest.mark.parametrize("case", ["body-before-start", "unknown-type", "str-status", "str-header", "str-body"])
def test_an_invalid_event_raises_out_of_send(asgi, case):
    s = asgi(APP)
    r, _ = get(s.port, f"/invalid/{case}")
    [n] = s.wait_notes("invalid.log")
    assert n["outcome"].startswith("raised "), n
    # what the client got is a well-formed response (the application's, or a
    # 500), or nothing at all: never a malformed one
    assert r is None or (r.complete and r.status in (200, 500)), r.raw
    assert http_get(s.port, "/") == (200, b"hello")


def test_a_second_response_start_raises(asgi):
    s = asgi(APP)
    r, _ = get(s.port, "/start-twice")
    assert (r.status, r.body) == (200, b"once")
    [n] = s.wait_notes("twice.log")
    assert n["outcome"].startswith("raised "), n


def test_a_body_after_the_response_completed_is_never_sent(asgi):
    """"any further messages on the channel will be ignored" (or, 2.4, the
    send raises): either way the client sees exactly the response."""
    s = asgi(APP)
    with RawConnection(s.port, timeout=10) as c:
        c.send(http_request_bytes("GET", "/send-after-end"))
        r = c.read_response()
        assert (r.status, r.body, r.complete) == (200, b"done", True)
        assert s.wait_notes("after-end.log")
        c.send(http_request_bytes("GET", "/"))
        r2 = c.read_response()
        assert (r2.status, r2.body) == (200, b"hello"), r2.raw


def test_many_failures_leave_the_worker_serving(asgi):
    s = asgi(APP)
    for path in ["/raise-before-start", "/raise-mid-stream", "/return-without-response", "/raise-after-start"] * 10:
        get(s.port, path)
    assert http_get(s.port, "/") == (200, b"hello")
