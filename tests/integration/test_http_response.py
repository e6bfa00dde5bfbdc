"""HTTP/1.1 plugin, response framing chosen by the server for what a WSGI
app returns (RFC 9112 §6.3, RFC 9110 §9.3.2, §15.3.5, §15.4.5), refusal of
bad response fields, and an application failing mid-body."""
import pytest

from http_support import PYAPP, Client, module_server, request  # noqa: F401


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(*PYAPP, "--processes", "1")


def test_app_content_length_is_used(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.framing == "length"
        assert r.header("content-length") == "30" and r.body == b"0123456789" * 3
        assert r.header("transfer-encoding") is None
        assert r.header("server") and r.header("date")


def test_no_length_is_chunked_on_http11(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/stream") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.framing == "chunked" and r.complete, r
        assert r.body == b"piece-0;piece-1;piece-2;piece-3;piece-4;"
        assert r.header("content-length") is None
        # The 0-chunk really ended it: the next response parses.
        assert c.read_response().body == b"0123456789" * 3


def test_no_length_is_close_delimited_on_http10(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/stream", version="HTTP/1.0", headers=[("Connection", "keep-alive")]))
        r = c.read_response()
        assert r.status == 200 and r.framing == "close" and r.complete, r
        assert r.header("transfer-encoding") is None  # unknown to 1.0 clients
        assert "close" in r.connection_tokens()
        assert r.body == b"piece-0;piece-1;piece-2;piece-3;piece-4;"


def test_head_has_no_body_and_pipeline_stays_in_sync(srv):
    with Client(srv.port) as c:
        c.send(request("HEAD", "/head-body") + request("GET", "/fixed"))
        h = c.read_response(head_request=True)
        assert h.status == 200
        assert h.header("content-length") == str(len(b"this is the body a GET would get\n"))
        # If the HEAD body leaked, this next parse would see it as a status line.
        g = c.read_response()
        assert g.status == 200 and g.body == b"0123456789" * 3, g


def test_head_of_streamed_response_has_no_body(srv):
    with Client(srv.port) as c:
        c.send(request("HEAD", "/head-stream") + request("GET", "/fixed"))
        h = c.read_response(head_request=True)
        assert h.status == 200
        g = c.read_response()
        assert g.status == 200 and g.body == b"0123456789" * 3, g


@pytest.mark.parametrize("code", [204, 304])
def test_204_304_have_no_body(srv, code):
    with Client(srv.port) as c:
        c.send(request("GET", f"/status/{code}") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == code
        assert r.header("transfer-encoding") is None
        if code == 204:
            assert r.header("content-length") is None  # RFC 9110 §8.6: MUST NOT
        g = c.read_response()
        assert g.status == 200 and g.body == b"0123456789" * 3, g


@pytest.mark.parametrize("route", ["/crlf-value", "/lf-value", "/bad-name", "/crlf-status", "/bad-cl", "/app-te"])
def test_header_injection_from_app_is_500(srv, route):
    with Client(srv.port) as c:
        c.send(request("GET", route))
        r = c.read_response()
        assert r.status == 500, r
        assert b"X-Injected" not in r.raw_head and b"x-injected" not in r.raw_head.lower()
        assert b"should not be sent" not in r.body
        rest = c.buf
        assert b"X-Injected" not in rest


def test_error_before_headers_is_500_and_connection_reusable(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/error-before-headers"))
        r = c.read_response()
        assert r.status == 500 and r.complete
        if "close" not in r.connection_tokens():
            c.send(request("GET", "/fixed"))
            assert c.read_response().status == 200


def test_error_after_headers_cuts_chunked_response(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/error-after-headers") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.framing == "chunked"
        # No terminating 0-chunk: the client must see the body as incomplete.
        assert not r.complete, r
        assert b"0\r\n\r\n" not in r.raw_body
        assert c.eof  # connection is gone, the pipelined request not served
        assert b"HTTP/1.1" not in r.raw_body


def test_error_after_headers_cuts_length_response(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/error-after-headers-cl"))
        r = c.read_response()
        assert r.status == 200 and r.framing == "length"
        assert not r.complete and r.body == b"first part;"
        assert c.eof


def test_error_after_headers_on_http10_is_a_reset(srv):
    # Close-delimited: a plain FIN would make the truncated body look whole.
    with Client(srv.port) as c:
        c.send(request("GET", "/error-after-headers", version="HTTP/1.0"))
        r = c.read_response()
        assert r.status == 200 and r.framing == "close"
        assert c.reset, "an aborted close-delimited body must end in a reset, not a clean FIN"
        assert not r.complete


def test_app_connection_close_is_honoured(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/app-close") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"ok"
        assert r.all("connection") == ["close"]
        assert c.read_until_close(timeout=3) == b""


def test_exactly_one_date_and_server_field(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/fixed"))
        r = c.read_response()
        assert len(r.all("date")) == 1 and len(r.all("server")) == 1
        assert r.header("date").endswith(" GMT")


def test_short_body_for_content_length_closes_the_connection(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/short-cl") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.header("content-length") == "100"
        # 10 of 100 bytes then the end: the client sees a truncated body and
        # the pipelined request is not answered on this connection.
        assert not r.complete and r.body == b"0123456789"
        assert c.eof


def test_extra_body_beyond_content_length_is_dropped(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/long-cl") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"01234"
        g = c.read_response()
        assert g.status == 200 and g.body == b"0123456789" * 3, g


def test_empty_body_gets_content_length_zero(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/empty") + request("GET", "/fixed"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"" and r.header("content-length") == "0"
        assert c.read_response().body == b"0123456789" * 3
