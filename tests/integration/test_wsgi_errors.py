"""Application errors become 500s (or broken responses once streaming has
begun), are logged with their traceback, and close() is always called."""
import socket
import time

import pytest
import requests

from wsgi_support import RawConnection, app_args, raw_request, read_state, start_module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    # One worker: "the worker keeps serving" then means the same process.
    s = start_module_server(tmp_path_factory, *app_args("--processes", "1"))
    yield s
    s.stop()


def pid_of(srv):
    return requests.get(srv.url + "/env", timeout=10).json()["_pid"]


# has_tb: the error is raised in the application's own frames, so a Python
# traceback is expected; errors the server detects after the app returned
# (no frame of the app left) are logged as the exception line only.
@pytest.mark.parametrize("kind, log_text, has_tb", [
    ("exception", "RuntimeError: deliberate-app-exception-marker", True),
    ("no_start", "AssertionError", False),
    ("no_start_empty", "AssertionError", False),
    ("str_body", "TypeError", False),
    ("bad_status", "200OK", True),
    ("bad_status_type", "TypeError", True),
    ("crlf_header", "ValueError", True),
    ("iter_first", "ZeroDivisionError: deliberate-before-first-chunk", True),
    ("twice", "start_response() called again", True),
])
def test_app_error_is_500_logged_and_worker_survives(srv, kind, log_text, has_tb):
    before_pid = pid_of(srv)
    log_before = len(srv.log())
    with RawConnection(srv.port) as c:
        c.send(f"GET /err/{kind} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 500, (kind, r.status_line, r.body)
        assert r.complete
        assert b"Injected" not in r.raw
        # The connection is still usable after a clean 500 (or cleanly closed).
        try:
            c.send(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r2 = c.read_response()
            assert r2.status == 200 and r2.body == b"Hello from wsgi_app"
        except (EOFError, BrokenPipeError, ConnectionResetError):
            pass
    # A fresh request is served by the same worker: it did not die.
    assert requests.get(srv.url + "/hello", timeout=10).status_code == 200
    assert pid_of(srv) == before_pid
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and log_text not in srv.log()[log_before:]:
        time.sleep(0.05)
    new_log = srv.log()[log_before:]
    assert log_text in new_log, new_log
    if has_tb:
        assert "Traceback (most recent call last)" in new_log, new_log
        assert "wsgi_app.py" in new_log, new_log


def test_crlf_header_is_not_injected(srv):
    r = raw_request(srv.port, path="/err/crlf_header")
    assert r.status == 500
    assert r.header("injected") is None and r.header("x-evil") is None


def test_error_after_first_chunk_breaks_the_response(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /stream-error HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.status == 200  # already sent before the failure
        assert r.header("transfer-encoding") == "chunked"
        assert r.body.startswith(b"first chunk;")
        assert not r.complete, "an aborted stream must not end with the terminating 0-chunk"
        assert not r.raw.endswith(b"0\r\n\r\n")
        assert c.at_eof()
    assert srv.wait_log("deliberate-mid-stream-failure")
    assert requests.get(srv.url + "/hello", timeout=10).status_code == 200


def test_error_after_first_chunk_with_content_length(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /stream-error?cl=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response()
        assert r.header("content-length") == "1000"
        assert len(r.body) < 1000 and not r.complete
        assert c.at_eof()


def test_requests_sees_broken_stream_as_error(srv):
    with pytest.raises(requests.exceptions.RequestException):
        r = requests.get(srv.url + "/stream-error", timeout=10)
        r.content  # noqa: B018


def test_curl_sees_broken_stream_as_error(srv):
    import subprocess
    res = subprocess.run(["curl", "-sS", "--max-time", "10", srv.url + "/stream-error"], capture_output=True,
                         timeout=20)
    assert res.returncode != 0, (res.stdout, res.stderr)


def test_close_called_after_success(srv):
    r = raw_request(srv.port, path="/close/ok?tag=success-1")
    assert r.status == 200 and r.body == b"abc"
    assert "close success-1" in read_state(srv.state_dir, "close.log", 1)


def test_close_called_after_exception_mid_iteration(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /close/fail?tag=fail-1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try:
            r = c.read_response()
            # "a" went out before the failure: a broken response, not a 200.
            assert not r.complete
        except EOFError:
            pass
    assert srv.wait_log("deliberate-iteration-failure fail-1")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "close fail-1" not in read_state(srv.state_dir, "close.log"):
        time.sleep(0.05)
    assert "close fail-1" in read_state(srv.state_dir, "close.log")


@pytest.mark.parametrize("kind, expect", [("disconnect", "close disc-1"), ("generator", "generator-finally disc-2")])
def test_close_called_when_client_disconnects(srv, kind, expect):
    tag = expect.split()[-1]
    c = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    c.sendall(f"GET /close/{kind}?tag={tag} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    got = 0
    while got < 200_000:
        got += len(c.recv(65536))
    # Hard close: the server's next writes fail.
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    c.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and expect not in read_state(srv.state_dir, "close.log"):
        time.sleep(0.05)
    lines = read_state(srv.state_dir, "close.log")
    assert expect in lines, lines
    assert f"exhausted {tag}" not in lines  # it really was cut short
    # The worker is free again.
    assert requests.get(srv.url + "/hello", timeout=10).status_code == 200


def test_wsgi_errors_reach_the_log(srv):
    r = raw_request(srv.port, path="/errors")
    assert r.status == 200
    assert srv.wait_log("wsgi-errors-marker line one")
    assert srv.wait_log("wsgi-errors-marker line two")


@pytest.mark.parametrize("kind", ["none", "nonlatin1_header", "bad_cl", "hop_te", "int_header"])
def test_invalid_responses_are_500(srv, kind):
    with RawConnection(srv.port) as c:
        c.send(f"GET /misc/{kind} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 500, (kind, r.raw[:300])
        assert r.complete
        assert r.header("transfer-encoding") is None
    assert requests.get(srv.url + "/hello", timeout=10).status_code == 200


def test_generator_yielding_empty_then_failing_is_500(srv):
    """Empty items send nothing, so the headers are still unsent and a clean 500 is possible."""
    r = raw_request(srv.port, path="/misc/empty_then_fail")
    assert r.status == 500 and r.complete


def test_close_called_on_disconnect_with_threads(server, tmp_path):
    s = server(*app_args("--threads", "4"), env={"APP_STATE_DIR": str(tmp_path)})
    socks = []
    for i in range(3):
        c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        c.sendall(f"GET /close/disconnect?tag=thr-{i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(c)
    for c in socks:
        got = 0
        while got < 100_000:
            got += len(c.recv(65536))
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        c.close()
    deadline = time.monotonic() + 10
    want = {f"close thr-{i}" for i in range(3)}
    while time.monotonic() < deadline and not want <= set(read_state(tmp_path, "close.log")):
        time.sleep(0.05)
    assert want <= set(read_state(tmp_path, "close.log"))
    assert requests.get(s.url + "/hello", timeout=10).status_code == 200
