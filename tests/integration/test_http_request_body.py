"""HTTP/1.1 plugin, request bodies (RFC 9112 §6-7, RFC 9110 §10.1.1):
Content-Length, chunked with extensions and trailers, Expect: 100-continue,
limit-post."""
import time

import pytest

from http_support import PYAPP, TESTAPP, Client, chunked, exchange, module_server, request  # noqa: F401


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(*TESTAPP, "--processes", "1", "--limit-post", "1000")


@pytest.fixture(scope="module")
def pysrv(module_server):
    return module_server(*PYAPP, "--processes", "1", "--limit-post", "1000")


def test_content_length_body(srv):
    r = exchange(srv.port, request("POST", "/echo", body=b"a" * 999))
    assert r.status == 200 and r.body == b"a" * 999


def test_zero_content_length(srv):
    r = exchange(srv.port, request("POST", "/echo", headers=[("Content-Length", "0")]))
    assert r.status == 200 and r.body == b""


def test_identical_content_length_list_accepted(srv):
    r = exchange(srv.port, request("POST", "/echo", headers=[("Content-Length", "5, 5")], body=b"hello"))
    assert r.status == 200 and r.body == b"hello"


def test_chunked_body_is_decoded(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
               + chunked(b"hello ", b"chunked ", b"world"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello chunked world"
        # The connection is still in sync afterwards.
        c.send(request("GET", "/bytes/2"))
        assert c.read_response().body == b"xx"


def test_chunked_with_extensions_and_trailers(srv):
    body = (b"4;name=value\r\nWiki\r\n"
            b"5 ; quoted=\"a;b \\\" c\" ; flag\r\npedia\r\n"
            b"E\r\n in\r\n\r\nchunks.\r\n"
            b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n")
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + body
               + request("GET", "/bytes/3"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"Wikipedia in\r\n\r\nchunks."
        assert c.read_response().body == b"xxx"


def test_chunked_uppercase_hex_and_leading_zeros(srv):
    body = b"000A\r\n0123456789\r\n00\r\n\r\n"
    r = exchange(srv.port, request("POST", "/echo", headers=[("Transfer-Encoding", "Chunked")]) + body)
    assert r.status == 200 and r.body == b"0123456789"


def test_chunked_body_seen_by_wsgi_app(pysrv):
    r = exchange(pysrv.port, request("POST", "/read", headers=[("Transfer-Encoding", "chunked")])
                 + chunked(b"abc", b"defg", ext=b";e=1", trailers=b"T: x\r\n"))
    assert r.status == 200 and r.body == b"7:abcdefg"


def test_expect_100_continue_when_app_reads_body(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "11"), ("Expect", "100-continue")]))
        interim = c.read_head(timeout=3)
        assert interim.status == 100, interim
        assert interim.raw_head == b"HTTP/1.1 100 Continue\r\n\r\n"
        c.send(b"hello world")
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello world"
        # Still usable afterwards.
        c.send(request("GET", "/bytes/1"))
        assert c.read_response().body == b"x"


def test_expect_100_continue_with_chunked_body(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked"), ("Expect", "100-Continue")]))
        assert c.read_head(timeout=3).status == 100
        c.send(chunked(b"abc", b"def"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"abcdef"


def test_expect_100_continue_body_already_sent_gets_no_interim(srv):
    # The client did not wait: the body is there, nothing to ask for.
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Expect", "100-continue")], body=b"eager"))
        r = c.read_response(allow_interim=True)
        assert r.status == 200 and r.body == b"eager"


def test_expect_100_continue_not_sent_when_app_ignores_body(pysrv):
    with Client(pysrv.port) as c:
        c.send(request("POST", "/ignore-body", headers=[("Content-Length", "10"), ("Expect", "100-continue")]))
        r = c.read_head(timeout=5)
        assert r.status == 200, f"expected the final response without a 100 first, got {r.raw_head!r}"
        assert c._take(int(r.header("content-length")), time.monotonic() + 3) == b"ignored"
        # The unread body's bytes would be taken as the next request: the
        # server must close (RFC 9110 §10.1.1 allows close instead of reading).
        assert "close" in r.connection_tokens()
        assert c.read_until_close(timeout=3) == b""


def test_no_100_continue_after_the_final_response_head(pysrv):
    # The app sends its response head and a first body piece, then reads the
    # body. A 1xx can only precede the final response (RFC 9110 §15.2): once
    # the head is out, "HTTP/1.1 100 Continue" must not be written into the
    # middle of the chunked body.
    with Client(pysrv.port) as c:
        c.send(request("POST", "/respond-then-read", headers=[("Content-Length", "5"), ("Expect", "100-continue")]))
        r = c.read_head(timeout=5)
        assert r.status in (100, 200), r
        if r.status == 100:  # a 100 before the final head is fine
            r = c.read_head(timeout=5)
        assert r.status == 200 and r.header("transfer-encoding") == "chunked"
        # The first body piece has come: the app's write() returned and it
        # goes on to read the body.
        deadline = time.monotonic() + 5
        while b"head-first;" not in c.buf:
            assert c._fill(deadline), f"connection closed before the first body piece: {c.buf!r}"
        # The behaviour under test: a client whose expect timeout ran out
        # sends the body unasked, while the application waits for it.
        time.sleep(0.3)
        c.send(b"hello")
        c.read_body(r)
        assert b"100 Continue" not in r.raw_body, f"interim response inside the body: {r.raw_body!r}"
        assert r.complete and r.body == b"head-first;5:hello", r


def test_expect_100_continue_on_bodyless_request_has_no_interim(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/2", headers=[("Expect", "100-continue")]))
        r = c.read_response(allow_interim=True)
        assert r.status == 200 and r.body == b"xx" and not r.interim


def test_expect_other_is_417(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Expect", "something-else")], body=b"hello")
               + request("GET", "/"))
        r = c.read_response()
        assert r.status == 417
        assert "close" in r.connection_tokens()
        assert c.read_until_close(timeout=3) == b""


def test_expect_is_ignored_on_http10(srv):
    r = exchange(srv.port, request("POST", "/echo", version="HTTP/1.0", headers=[("Expect", "bogus")],
                                   body=b"old"))
    assert r.status == 200 and r.body == b"old"


@pytest.mark.parametrize("framing", ["length", "chunked", "chunked-second-chunk"])
def test_body_above_limit_post_is_413(srv, framing):
    if framing == "length":
        data = request("POST", "/echo", body=b"z" * 1001)
    elif framing == "chunked":
        data = request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + chunked(b"z" * 1001)
    else:
        data = request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + chunked(b"z" * 600, b"z" * 600)
    with Client(srv.port) as c:
        c.send(data + request("GET", "/"))
        r = c.read_response()
        assert r.status == 413, r
        assert c.read_until_close(timeout=3) == b""


def test_body_at_limit_post_is_accepted(srv):
    r = exchange(srv.port, request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
                 + chunked(b"q" * 500, b"q" * 500))
    assert r.status == 200 and r.body == b"q" * 1000


def test_expect_100_continue_chunked_body_above_limit_post_is_413(pysrv):
    # With 100-continue the body is streamed to the app; crossing limit-post
    # must still be a 413 (plugin README), not a 500 from the app's read error.
    with Client(pysrv.port) as c:
        c.send(request("POST", "/read", headers=[("Transfer-Encoding", "chunked"), ("Expect", "100-continue")]))
        assert c.read_head(timeout=3).status == 100
        c.send(chunked(b"a" * 600, b"b" * 600))
        r = c.read_response()
        assert r.status == 413, r
        assert "close" in r.connection_tokens()


def test_expect_100_continue_content_length_above_limit_post_is_413_without_interim(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "1001"), ("Expect", "100-continue")]))
        r = c.read_response(timeout=3)
        assert r.status == 413, r


def test_app_ignoring_body_keeps_the_connection_in_sync(pysrv):
    with Client(pysrv.port) as c:
        c.send(request("POST", "/ignore-body", body=b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
               + request("POST", "/ignore-body", headers=[("Transfer-Encoding", "chunked")])
               + chunked(b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
               + request("GET", "/env"))
        assert c.read_response().body == b"ignored"
        assert c.read_response().body == b"ignored"
        r = c.read_response()
        assert r.status == 200 and b'"PATH_INFO": "/env"' in r.body


def test_get_with_body_is_framed(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/2", body=b"GET /bytes/7 HTTP/1.1\r\nHost: x\r\n\r\n") + request("GET", "/bytes/3"))
        assert c.read_response().body == b"xx"
        assert c.read_response().body == b"xxx"
        assert c.quiet_for(0.2)


def test_expect_100_continue_then_body_and_pipelined_request(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked"), ("Expect", "100-continue")]))
        assert c.read_head(timeout=3).status == 100
        c.send(chunked(b"hello", b" world") + request("GET", "/bytes/4"))
        assert c.read_response().body == b"hello world"
        assert c.read_response().body == b"xxxx"


def test_expect_100_continue_ignored_on_http10(srv):
    # RFC 9110 §10.1.1: no 100 (Continue) to an HTTP/1.0 client.
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", version="HTTP/1.0", headers=[("Expect", "100-continue"),
                                                                     ("Content-Length", "5")]))
        assert c.quiet_for(0.4)
        c.send(b"hello")
        r = c.read_response(allow_interim=True)
        assert r.status == 200 and r.body == b"hello" and not r.interim


def test_413_announced_length_is_refused_before_the_body(srv):
    # The head alone is enough to refuse: no need to send 1 MB first.
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "1000000")]))
        r = c.read_response(timeout=3)
        assert r.status == 413


def test_large_body_spooled(module_server):
    s = module_server(*TESTAPP, "--processes", "1", "--post-buffering", "4096")
    payload = bytes(range(256)) * 4096  # 1 MiB
    with Client(s.port, timeout=20) as c:
        c.send(request("POST", "/echo", body=payload))
        r = c.read_response()
        assert r.status == 200 and r.body == payload
        c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
               + chunked(*[payload[i:i + 70000] for i in range(0, len(payload), 70000)]))
        r = c.read_response()
        assert r.status == 200 and r.body == payload


@pytest.mark.parametrize("buffering", ["1048576", "0"], ids=["in-memory", "spooled"])
def test_big_bodies_pipelined_in_one_send(module_server, buffering):
    import os
    s = module_server(*TESTAPP, "--processes", "1", "--post-buffering", buffering)
    body = os.urandom(500_000)
    with Client(s.port, timeout=20) as c:
        c.send(request("POST", "/echo", body=body)
               + request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
               + chunked(*[body[i:i + 9999] for i in range(0, len(body), 9999)])
               + request("GET", "/bytes/3"))
        assert c.read_response().body == body
        assert c.read_response().body == body
        assert c.read_response().body == b"xxx"


def test_truncated_body_gets_no_reply(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", headers=[("Content-Length", "100")]) + b"short")
        import socket
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_until_close(timeout=3) == b""
