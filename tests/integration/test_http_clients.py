"""HTTP/1.1 plugin with real clients: http.client, requests and curl."""
import http.client
import shutil
import subprocess

import pytest
import requests

from http_support import PYAPP, TESTAPP, module_server  # noqa: F401


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(*TESTAPP, "--processes", "2")


@pytest.fixture(scope="module")
def pysrv(module_server):
    return module_server(*PYAPP, "--processes", "1")


def test_http_client_keepalive_and_bodies(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"Hello World!")
        sock = conn.sock
        conn.request("POST", "/echo", body=b"posted")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"posted")
        # http.client sends chunked for an iterable body without a length.
        conn.request("POST", "/echo", body=iter([b"one,", b"two,", b"three"]), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"one,two,three")
        assert conn.sock is sock  # one connection throughout
    finally:
        conn.close()


def test_http_client_head_and_streaming(pysrv):
    conn = http.client.HTTPConnection("127.0.0.1", pysrv.port, timeout=10)
    try:
        conn.request("HEAD", "/head-body")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == b""
        conn.request("GET", "/stream")
        r = conn.getresponse()
        assert r.getheader("Transfer-Encoding") == "chunked"
        assert r.read() == b"piece-0;piece-1;piece-2;piece-3;piece-4;"
        conn.request("GET", "/status/204")
        r = conn.getresponse()
        assert r.status == 204 and r.read() == b""
        conn.request("GET", "/fixed")
        assert conn.getresponse().read() == b"0123456789" * 3
    finally:
        conn.close()


def test_http_client_sees_truncated_body(pysrv):
    conn = http.client.HTTPConnection("127.0.0.1", pysrv.port, timeout=10)
    try:
        conn.request("GET", "/error-after-headers")
        r = conn.getresponse()
        # Either way the client must not take the partial body as complete:
        # no 0-chunk (IncompleteRead) or a reset.
        with pytest.raises((http.client.IncompleteRead, ConnectionResetError)):
            r.read()
    finally:
        conn.close()


def test_requests_session_reuses_connection(srv):
    with requests.Session() as sess:
        for i in range(20):
            r = sess.post(f"http://127.0.0.1:{srv.port}/echo", data=b"n=%d" % i, timeout=10)
            assert r.status_code == 200 and r.content == b"n=%d" % i
        r = sess.get(f"http://127.0.0.1:{srv.port}/bytes/100000", timeout=10)
        assert r.content == b"x" * 100000

        def gen():
            yield b"streamed "
            yield b"upload"
        r = sess.post(f"http://127.0.0.1:{srv.port}/echo", data=gen(), timeout=10)
        assert r.status_code == 200 and r.content == b"streamed upload"


def test_requests_sends_headers_underscore_dropped(pysrv):
    r = requests.get(f"http://127.0.0.1:{pysrv.port}/env", headers={"X-Foo": "1", "X_Bar": "2"}, timeout=10)
    env = r.json()
    assert env["headers"]["HTTP_X_FOO"] == "1"
    assert "HTTP_X_BAR" not in env["headers"]


curl = pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")


def run_curl(*args):
    p = subprocess.run(["curl", "-sS", "--max-time", "10", *args], capture_output=True, timeout=20)
    return p


@curl
def test_curl_keepalive_reuses_the_connection(srv):
    url = f"http://127.0.0.1:{srv.port}"
    p = run_curl("-v", f"{url}/bytes/3", f"{url}/", f"{url}/bytes/2")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"xxx" + b"Hello World!" + b"xx"
    assert p.stderr.count(b"Connected to") == 1 or b"Re-using existing connection" in p.stderr, p.stderr


@curl
def test_curl_expect_100_continue(srv):
    # curl sends Expect: 100-continue for large bodies and waits for the 100.
    body = b"y" * 2_000_000
    p = subprocess.run(["curl", "-sS", "-v", "--max-time", "10", "--expect100-timeout", "5",
                        "-H", "Expect: 100-continue", "--data-binary", "@-",
                        f"http://127.0.0.1:{srv.port}/echo"], input=body, capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert b"HTTP/1.1 100 Continue" in p.stderr
    assert p.stdout == body


@curl
def test_curl_chunked_upload(srv):
    p = subprocess.run(["curl", "-sS", "--max-time", "10", "-H", "Transfer-Encoding: chunked",
                        "--data-binary", "@-", f"http://127.0.0.1:{srv.port}/echo"],
                       input=b"chunked via curl", capture_output=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"chunked via curl"


@curl
def test_curl_head_and_http10(pysrv):
    url = f"http://127.0.0.1:{pysrv.port}"
    p = run_curl("-I", f"{url}/head-body")
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(b"HTTP/1.1 200")
    p = run_curl("--http1.0", f"{url}/stream")
    assert p.returncode == 0, p.stderr
    assert p.stdout == b"piece-0;piece-1;piece-2;piece-3;piece-4;"


@curl
def test_curl_reports_truncated_chunked_body(pysrv):
    p = run_curl(f"http://127.0.0.1:{pysrv.port}/error-after-headers")
    assert p.returncode != 0  # 18 (partial file) or 56 (recv failure)
    assert p.stdout == b"first part;"
