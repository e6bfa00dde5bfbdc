"""Response side of PEP 3333 through the HTTP plugin: write(), file_wrapper,
streaming, HEAD, bodiless statuses, start_response(exc_info)."""
import hashlib
import http.client
import os
import subprocess
import time

import pytest
import requests

from wsgi_support import RawConnection, app_args, raw_request, read_state, start_module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_module_server(tmp_path_factory, *app_args("--processes", "2"))
    big = os.urandom(10 * 1024 * 1024)
    (s.state_dir / "big.bin").write_bytes(big)
    (s.state_dir / "small.txt").write_bytes(b"0123456789abcdef" * 100)
    s.big = big
    yield s
    s.stop()


def test_write_output_precedes_iterable(srv):
    r = raw_request(srv.port, path="/write")
    assert r.status == 200 and r.complete
    assert r.body == b"one,two,three,four"


def test_write_output_precedes_iterable_on_keepalive(srv):
    with RawConnection(srv.port) as c:
        for _ in range(3):
            c.send(b"GET /write HTTP/1.1\r\nHost: x\r\n\r\n")
            r = c.read_response()
            assert r.body == b"one,two,three,four" and r.complete


@pytest.mark.parametrize("variant", ["", "&cl=1", "&bytesio=1", "&bytesio=1&cl=1"],
                         ids=["fd", "fd-length", "bytesio", "bytesio-length"])
def test_file_wrapper_big_file(srv, variant):
    r = requests.get(srv.url + "/file?name=big.bin" + variant, timeout=30)
    assert r.status_code == 200
    assert len(r.content) == len(srv.big)
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(srv.big).digest()
    if "cl=1" in variant:
        assert r.headers["Content-Length"] == str(len(srv.big))


def test_file_wrapper_with_curl(srv, tmp_path):
    out = tmp_path / "dl.bin"
    res = subprocess.run(["curl", "-sS", "--max-time", "20", "-o", str(out), "-w", "%{http_code}",
                          srv.url + "/file?name=big.bin"], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "200"
    assert out.read_bytes() == srv.big


def test_file_wrapper_from_current_position(srv):
    """A file_wrapper sends from the file's current position."""
    r = raw_request(srv.port, path="/file?name=small.txt&seek=1590")
    assert r.status == 200 and r.complete
    assert r.body == (b"0123456789abcdef" * 100)[1590:]


def test_file_wrapper_then_keepalive(srv):
    with RawConnection(srv.port, timeout=30) as c:
        c.send(b"GET /file?name=small.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        r1 = c.read_response()
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r2 = c.read_response()
    assert r1.body == b"0123456789abcdef" * 100 and r1.complete
    assert r2.body == b"Hello from wsgi_app"


def test_generator_is_streamed_chunked_on_http11(srv):
    r = raw_request(srv.port, path="/stream?n=5&delay=0.02")
    assert r.status == 200
    assert r.header("transfer-encoding") == "chunked"
    assert r.header("content-length") is None
    assert r.complete  # ends with the 0-chunk
    assert r.body == b"".join(b"chunk-%d;" % i for i in range(5))
    assert r.raw.endswith(b"0\r\n\r\n")


def test_generator_on_http10_is_close_delimited(srv):
    r = raw_request(srv.port, path="/stream?n=3", version="HTTP/1.0")
    assert r.status == 200
    assert r.header("transfer-encoding") is None  # HTTP/1.0 has no chunked coding
    assert r.body == b"chunk-0;chunk-1;chunk-2;"


def test_streamed_chunks_arrive_before_the_end(srv):
    """The first chunk reaches the client while the app is still producing."""
    import time
    with RawConnection(srv.port) as c:
        c.send(b"GET /stream?n=3&delay=0.6 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        t0 = time.monotonic()
        while b"chunk-0;" not in c.buf:
            assert c._fill()
        first = time.monotonic() - t0
        r = c.read_response()
        total = time.monotonic() - t0
    assert first < 0.5, f"first chunk took {first:.2f}s: not streamed"
    assert total > 1.1
    assert r.complete


def test_head_has_no_body(srv):
    with RawConnection(srv.port) as c:
        for path in ("/hello", "/stream?n=3", "/file?name=small.txt", "/write"):
            c.send(f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            r = c.read_response(head_request=True)
            assert r.status == 200, path
        # Had any HEAD response carried body bytes, this response would be garbage.
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.status_line.startswith(b"HTTP/1.1 200")
        assert r.body == b"Hello from wsgi_app"
        assert c.at_eof()


def test_head_keeps_content_length_of_get(srv):
    r = raw_request(srv.port, "HEAD", "/hello")
    assert r.header("content-length") == str(len(b"Hello from wsgi_app"))


@pytest.mark.parametrize("code", ["204", "304"])
def test_bodiless_statuses(srv, code):
    with RawConnection(srv.port) as c:
        c.send(f"GET /status?code={code} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == int(code)
        assert r.header("x-code") == code
        assert r.header("transfer-encoding") is None
        if code == "204":
            assert r.header("content-length") is None
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r2 = c.read_response()
        # Any stray body bytes of the 204/304 would show up here instead.
        assert r2.status_line.startswith(b"HTTP/1.1 200"), r2.status_line
        assert r2.body == b"Hello from wsgi_app"


def test_other_statuses_pass_through(srv):
    r = raw_request(srv.port, path="/status?code=418")
    assert r.status_line == b"HTTP/1.1 418 I'm a teapot"
    assert r.body == b"this body must not be sent for 204/304"


def test_exc_info_before_headers_replaces_status(srv):
    r = raw_request(srv.port, path="/excinfo-before")
    assert r.status_line == b"HTTP/1.1 503 Replaced Status"
    assert r.header("x-replacement") == "yes"
    assert r.header("x-original") is None
    assert r.body == b"replacement body"


def test_exc_info_after_headers_reraises_and_breaks_response(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /excinfo-after HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert r.body.startswith(b"partial body already sent;")
        assert b"must never be sent" not in r.body
        assert not r.complete
        assert c.at_eof()
    assert "did not raise" not in ((srv.state_dir / "excinfo.log").read_text()
                                   if (srv.state_dir / "excinfo.log").exists() else "")
    assert srv.wait_log("too late to change the status")


def test_http_client_reads_everything(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        for path, expect in [("/hello", b"Hello from wsgi_app"), ("/write", b"one,two,three,four"),
                             ("/stream?n=2", b"chunk-0;chunk-1;")]:
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.read() == expect
    finally:
        conn.close()


def test_short_content_length_never_looks_complete(srv):
    """The app promises 100 bytes and sends 10: the client must not get a
    keep-alive connection that silently waits (the server closes it)."""
    with RawConnection(srv.port) as c:
        c.send(b"GET /misc/short_cl HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.header("content-length") == "100"
        assert r.body == b"only ten.." and not r.complete
        assert c.at_eof()


def test_body_beyond_content_length_is_cut(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /misc/long_cl HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.body == b"12345"
        # The extra bytes must not leak into the next response.
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r2 = c.read_response()
        assert r2.status_line.startswith(b"HTTP/1.1 200") and r2.body == b"Hello from wsgi_app"


@pytest.mark.parametrize("kind, body", [("empty_list", b""), ("empty_items", b"x"), ("write_only", b"written")])
def test_small_bodies(srv, kind, body):
    with RawConnection(srv.port) as c:
        c.send(f"GET /misc/{kind} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 200 and r.complete and r.body == body
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.read_response().body == b"Hello from wsgi_app"


def test_app_connection_close_is_honoured(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /misc/connection_close HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.body == b"ok" and r.header("connection") == "close"
        assert c.at_eof()


def test_client_connection_close_is_honoured(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
        assert r.header("connection") == "close"
        assert c.at_eof()


@pytest.mark.parametrize("framing", ["length", "chunked", "http10"])
def test_closing_connection_ends_before_the_iterable_close_returns(srv, framing):
    # The body's close() blocks until this test creates the gate file, which
    # it does only after seeing the end of the stream: a server that sent its
    # FIN only once the application was done would hang here.
    tag = f"gate-{framing}"
    if framing == "http10":
        head = f"GET /close/gated?tag={tag} HTTP/1.0\r\n\r\n"
    else:
        head = f"GET /close/gated?tag={tag} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with RawConnection(srv.port) as c:
        c.send(head.encode())
        r = c.read_response()
        assert r.status == 200 and r.body == b"abc"
        assert c.at_eof(wait=5.0)
    assert f"close {tag}" not in read_state(srv.state_dir, "close.log")  # still waiting in close()
    (srv.state_dir / f"{tag}.release").touch()
    deadline = time.monotonic() + 15
    while f"close {tag}" not in read_state(srv.state_dir, "close.log") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"close {tag}" in read_state(srv.state_dir, "close.log")


def test_many_and_repeated_response_headers(srv):
    r = raw_request(srv.port, path="/misc/many_headers")
    assert r.status == 200 and r.body == b"many"
    assert sum(1 for n, _ in r.headers if n.startswith("x-h")) == 300
    r = raw_request(srv.port, path="/misc/set_cookies")
    assert [v for n, v in r.headers if n == "set-cookie"] == ["a=1", "b=2"]


def test_read_none_reads_everything(srv):
    r = raw_request(srv.port, "POST", "/misc/read_none", body=b"abc\ndef")
    assert r.json() == {"len": 7, "line": 0}


def test_error_mid_stream_on_http10_is_a_reset(srv):
    """HTTP/1.0 bodies end at EOF: an aborted one must end with a reset, or
    the truncated body would look complete."""
    r = raw_request(srv.port, path="/stream-error", version="HTTP/1.0")
    assert r.body.startswith(b"first chunk;")
    assert not r.complete


def test_stalled_client_times_out_and_close_is_called(server, tmp_path):
    import socket
    import time
    s = server(*app_args("--socket-timeout", "1"), env={"APP_STATE_DIR": str(tmp_path)})
    c = socket.create_connection(("127.0.0.1", s.port))
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.sendall(b"GET /close/disconnect?tag=stalled HTTP/1.1\r\nHost: x\r\n\r\n")
    # Read nothing: the server's writes block, then time out.
    deadline = time.monotonic() + 8
    log = tmp_path / "close.log"
    while time.monotonic() < deadline and not (log.exists() and "close stalled" in log.read_text()):
        time.sleep(0.1)
    assert log.exists() and "close stalled" in log.read_text(), s.log()
    assert requests.get(s.url + "/hello", timeout=5).status_code == 200
    c.close()


def test_start_response_called_from_first_iteration(srv):
    r = raw_request(srv.port, path="/misc/lazy_start")
    assert r.status == 200 and r.header("x-lazy") == "1"
    assert r.body == b"lazy start" and r.complete


def test_close_that_raises_is_logged_response_intact(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /misc/close_raises HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"body ok"
    assert srv.wait_log("deliberate-close-failure")
    assert requests.get(srv.url + "/hello", timeout=10).status_code == 200
