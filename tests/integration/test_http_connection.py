"""HTTP/1.1 plugin, connection management over real sockets (RFC 9112 §9):
persistence defaults, Connection: close / keep-alive, pipelining, and a
request trickled in byte by byte. C++ test runtime, no Python."""
import pytest

from http_support import TESTAPP, Client, module_server, request  # noqa: F401


@pytest.fixture(scope="module", params=["1", "4"], ids=["inline", "threads4"])
def srv(module_server, request):
    # --threads 1 serves on the event loop; more hands requests to a pool.
    return module_server(*TESTAPP, "--processes", "1", "--threads", request.param)


def test_http11_is_persistent_by_default(srv):
    with Client(srv.port) as c:
        pids = set()
        for i in range(5):
            c.send(request("GET", "/pid"))
            r = c.read_response()
            assert r.status == 200 and r.complete, r
            assert "close" not in r.connection_tokens()
            assert r.version == "HTTP/1.1"
            pids.add(r.body)
        # Same connection, same worker, still open.
        assert len(pids) == 1
        assert c.quiet_for(0.3)


def test_connection_close_closes_after_the_response(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/", headers=[("Connection", "close")]))
        r = c.read_response()
        assert r.status == 200 and r.body == b"Hello World!"
        assert "close" in r.connection_tokens()
        assert c.read_until_close(timeout=3) == b""


def test_connection_close_among_other_options(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/", headers=[("Connection", "TE, Close")]))
        r = c.read_response()
        assert r.status == 200
        assert "close" in r.connection_tokens()
        assert c.read_until_close(timeout=3) == b""


def test_http10_closes_by_default(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/", version="HTTP/1.0", host=None))
        r = c.read_response()
        assert r.status == 200 and r.body == b"Hello World!"
        # Responses always say HTTP/1.1 (RFC 9110 §6.2: our highest version).
        assert r.version == "HTTP/1.1"
        assert "keep-alive" not in r.connection_tokens()
        assert c.read_until_close(timeout=3) == b""


def test_http10_keep_alive_is_honoured(srv):
    with Client(srv.port) as c:
        for _ in range(3):
            c.send(request("GET", "/", version="HTTP/1.0", host=None, headers=[("Connection", "keep-alive")]))
            r = c.read_response()
            assert r.status == 200 and r.body == b"Hello World!"
            assert "keep-alive" in r.connection_tokens(), r
            assert r.header("content-length") == "12"
        c.send(request("GET", "/", version="HTTP/1.0", host=None))
        r = c.read_response()
        assert r.status == 200
        assert c.read_until_close(timeout=3) == b""


def test_three_pipelined_requests_answered_in_order(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/3") + request("POST", "/echo", body=b"second body")
               + request("GET", "/bytes/7"))
        bodies = [c.read_response().body for _ in range(3)]
        assert bodies == [b"xxx", b"second body", b"xxxxxxx"]
        assert c.quiet_for(0.2)


def test_pipelined_requests_last_one_closes(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/1") + request("GET", "/bytes/2", headers=[("Connection", "close")])
               + request("GET", "/bytes/3"))
        assert c.read_response().body == b"x"
        r = c.read_response()
        assert r.body == b"xx" and "close" in r.connection_tokens()
        # The third request is after a close: never answered.
        assert c.read_until_close(timeout=3) == b""


def test_pipelined_burst_of_fifty(srv):
    with Client(srv.port) as c:
        c.send(b"".join(request("GET", f"/bytes/{i}") for i in range(50)))
        for i in range(50):
            r = c.read_response()
            assert r.status == 200 and r.body == b"x" * i


def test_request_split_byte_by_byte(srv):
    with Client(srv.port) as c:
        data = request("POST", "/echo", headers=[("X-Long-Header", "v" * 40)], body=b"split body")
        c.send_slowly(data, piece=1, pause=0.002)
        r = c.read_response()
        assert r.status == 200 and r.body == b"split body"
        # And a second one on the same connection, split at every CRLF.
        data = request("GET", "/bytes/5")
        for part in data.split(b"\n"):
            c.send(part + b"\n" if part is not data.split(b"\n")[-1] else part)
        r = c.read_response()
        assert r.body == b"xxxxx"


def test_chunked_request_split_byte_by_byte(srv):
    with Client(srv.port) as c:
        body = b"5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nT: v\r\n\r\n"
        c.send_slowly(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")]) + body, pause=0.001)
        r = c.read_response()
        assert r.status == 200 and r.body == b"hello world"


def test_head_request_has_no_body(srv):
    with Client(srv.port) as c:
        c.send(request("HEAD", "/bytes/10") + request("GET", "/bytes/3"))
        h = c.read_response(head_request=True)
        assert h.status == 200 and h.header("content-length") == "10"
        assert c.read_response().body == b"xxx"


def test_pipelined_burst_larger_than_the_buffer(srv):
    with Client(srv.port) as c:
        c.send(b"".join(request("GET", f"/bytes/{i % 7}", headers=[("X-Pad", "p" * 100)]) for i in range(500)))
        for i in range(500):
            assert c.read_response().body == b"x" * (i % 7)


def test_eof_mid_head_gets_no_reply(srv):
    import socket
    with Client(srv.port) as c:
        c.send(b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n")
        c.sock.shutdown(socket.SHUT_WR)
        assert c.read_until_close(timeout=3) == b""


def test_leading_empty_lines_are_skipped(srv):
    # RFC 9112 §2.2: a server SHOULD ignore at least one empty line before
    # the request line (clients that add CRLF after a POST body).
    with Client(srv.port) as c:
        c.send(request("POST", "/echo", body=b"abc") + b"\r\n" + request("GET", "/bytes/2"))
        assert c.read_response().body == b"abc"
        assert c.read_response().body == b"xx"


def test_large_response_then_next_request(srv):
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/3000000") + request("GET", "/"))
        r = c.read_response(timeout=20)
        assert r.complete and len(r.body) == 3000000 and r.body == b"x" * 3000000
        assert c.read_response().body == b"Hello World!"


def test_client_half_close_after_request_still_gets_answer(srv):
    import socket
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/4"))
        c.sock.shutdown(socket.SHUT_WR)
        r = c.read_response()
        assert r.status == 200 and r.body == b"xxxx"


def test_upgrade_request_is_served_as_http11(srv):
    # No protocol switch is offered: never a 101, the request is answered.
    with Client(srv.port) as c:
        c.send(request("GET", "/bytes/2", headers=[("Connection", "Upgrade, HTTP2-Settings"), ("Upgrade", "h2c"),
                                                  ("HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA")])
               + request("GET", "/bytes/3"))
        r = c.read_response()
        assert r.status == 200 and r.body == b"xx"
        assert c.read_response().body == b"xxx"


@pytest.mark.parametrize("seed", range(5))
def test_mixed_pipeline_in_random_splits(srv, seed):
    import random
    import time
    rng = random.Random(seed)
    data = (request("POST", "/echo", body=b"first")
            + request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
            + b"3;ext=1\r\nsec\r\n3\r\nond\r\n0\r\nTrailer: t\r\n\r\n"
            + request("HEAD", "/bytes/9")
            + b"\r\n"
            + request("GET", "/bytes/4", headers=[("X-Many", "m" * rng.randint(0, 3000))])
            + request("POST", "/echo", headers=[("Content-Length", "0")])
            + request("POST", "/echo", body=b"last"))
    with Client(srv.port) as c:
        i = 0
        while i < len(data):
            n = rng.randint(1, 700)
            c.send(data[i:i + n])
            i += n
            if rng.random() < 0.3:
                time.sleep(0.002)
        assert c.read_response().body == b"first"
        assert c.read_response().body == b"second"
        h = c.read_response(head_request=True)
        assert h.status == 200 and h.header("content-length") == "9"
        assert c.read_response().body == b"xxxx"
        assert c.read_response().body == b""
        assert c.read_response().body == b"last"
        assert c.quiet_for(0.1)
