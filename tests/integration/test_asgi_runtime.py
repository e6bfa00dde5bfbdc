"""The ASGI runtime (--plugin asgi) end to end, behind the real HTTP and
uwsgi plugins: the http scope, request bodies and responses, errors,
lifespan, the event loop choice and --asgi-max-concurrency. The app is
apps/asgi_app.py."""
import http.client
import json
import socket
import struct
import threading
import time

import pytest

from conftest import APPS, Server, free_port, http_get, wait_until

APP = str(APPS / "asgi_app.py")
ASGI = ["--plugin", "asgi", "--plugin", "http", "--asgi-file", APP]


def request(port, method, path, body=None, headers=None, timeout=10):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def test_hello_world_over_keep_alive(server):
    s = server(*ASGI, "--processes", "1")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    for _ in range(20):
        conn.request("GET", "/hello")
        r = conn.getresponse()
        assert (r.status, r.read()) == (200, b"Hello, world!")
        assert r.getheader("content-type") == "text/plain"
    conn.close()
    assert "asgi: loaded " + APP in s.log()


def test_the_http_scope(server):
    s = server(*ASGI, "--processes", "1")
    status, _, body = request(s.port, "GET", "/scope?a=1&b=%20x", headers={"X-Custom": "Value", "X-Two": "2"})
    assert status == 200
    scope = json.loads(body)
    assert scope["type"] == "http"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/scope"
    assert scope["query_string"] == "a=1&b=%20x"
    assert scope["root_path"] == ""
    assert ["x-custom", "Value"] in scope["headers"]
    assert ["x-two", "2"] in scope["headers"]
    assert ["host", f"127.0.0.1:{s.port}"] in scope["headers"]
    assert all(n == n.lower() for n, _ in scope["headers"])
    assert scope["client"][0] == "127.0.0.1" and isinstance(scope["client"][1], int)
    assert scope["server"] == ["127.0.0.1", s.port]
    assert scope["has_state"] is True  # lifespan ran


def test_the_path_is_decoded_and_raw_path_is_not(server):
    s = server(*ASGI, "--processes", "1")
    _, _, body = request(s.port, "GET", "/caf%C3%A9/a%2Fb?x=%C3%A9")
    # /scope is not that path: the 404 says nothing, so ask /scope itself
    # with an encoded character in its query and look at a decoded path.
    _, _, body = request(s.port, "GET", "/%73cope?q=%C3%A9")
    scope = json.loads(body)
    assert scope["path"] == "/scope"
    assert scope["raw_path"] == "/%73cope"
    assert scope["query_string"] == "q=%C3%A9"


def test_http_1_0(server):
    s = server(*ASGI, "--processes", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"GET /scope HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.")
    assert json.loads(body)["http_version"] == "1.0"


@pytest.mark.parametrize("size", [0, 1, 100_000, 3_000_000])
def test_request_bodies_arrive_whole(server, size):
    s = server(*ASGI, "--processes", "1")
    payload = bytes(i % 251 for i in range(size))
    status, headers, body = request(s.port, "POST", "/echo", body=payload)
    assert status == 200
    assert body == payload
    if size > 1_000_000:
        # Delivered as it arrived: in more than one http.request message.
        assert int(headers["x-messages"]) > 1


def test_chunked_upload(server):
    s = server(*ASGI, "--processes", "1")

    def pieces():
        for i in range(50):
            yield (b"%03d-" % i) * 100

    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("POST", "/echo", body=pieces(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
    r = conn.getresponse()
    assert r.status == 200
    assert r.read() == b"".join(pieces())
    conn.close()


def test_expect_100_continue_is_answered_when_the_app_reads(server):
    s = server(*ASGI, "--processes", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        first = c.recv(65536)
        assert first.startswith(b"HTTP/1.1 100 Continue\r\n"), first
        c.sendall(b"hello")
        data = b""
        while not data.endswith(b"hello"):
            chunk = c.recv(65536)
            assert chunk, data
            data += chunk
    assert data.startswith(b"HTTP/1.1 200")


def test_a_response_without_length_is_chunked(server):
    s = server(*ASGI, "--processes", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert body == b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n"


def test_large_responses_stream_with_backpressure(server):
    s = server(*ASGI, "--processes", "1")
    n = 20_000_000
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
    conn.request("GET", f"/big?n={n}")
    r = conn.getresponse()
    time.sleep(0.5)  # a slow reader: the app must wait, not buffer 20 MB
    got = 0
    while chunk := r.read(1 << 20):
        got += len(chunk)
    assert got == n
    conn.close()


def test_head_sends_no_body(server):
    s = server(*ASGI, "--processes", "1")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"HEAD /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    # The HEAD answer has its length but no body: the GET's status line
    # follows its head directly.
    first, _, rest = data.partition(b"\r\n\r\n")
    assert b"content-length: 13" in first.lower()
    assert rest.startswith(b"HTTP/1.1 200"), rest
    assert rest.endswith(b"Hello, world!")


def test_an_exception_before_the_start_is_a_500(server):
    s = server(*ASGI, "--processes", "1")
    status, _, _ = request(s.port, "GET", "/raise")
    assert status == 500
    assert s.wait_log("boom before the start")
    assert "Traceback" in s.log()
    # The worker goes on serving.
    assert http_get(s.port, "/hello") == (200, b"Hello, world!")


def test_an_exception_after_the_start_cuts_the_connection(server):
    s = server(*ASGI, "--processes", "1")
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/raise-after")
    r = conn.getresponse()
    assert r.status == 200
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        r.read()
    assert s.wait_log("boom after the start")


def test_returning_without_a_response_is_a_500(server):
    s = server(*ASGI, "--processes", "1")
    status, _, _ = request(s.port, "GET", "/noresponse")
    assert status == 500
    assert s.wait_log("returned without sending a response")


def test_a_client_that_leaves_is_told_to_the_app(server):
    s = server(*ASGI, "--processes", "1")
    c = socket.create_connection(("127.0.0.1", s.port), timeout=10)
    c.sendall(b"GET /wait-disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    time.sleep(0.2)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    assert s.wait_log("asgi_app: got http.disconnect"), s.log()


def test_many_requests_in_flight_on_one_worker(server):
    s = server(*ASGI, "--processes", "1")
    results = []

    def one():
        results.append(request(s.port, "GET", "/sleep?ms=500", timeout=30)[0])

    threads = [threading.Thread(target=one) for _ in range(200)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 200
    # All at once on one worker, not one after another.
    assert time.monotonic() - t0 < 10


def test_max_concurrency_holds_the_rest_back(server):
    s = server(*ASGI, "--processes", "1", "--asgi-max-concurrency", "2")
    results = []

    def one():
        results.append(request(s.port, "GET", "/concurrency?ms=300", timeout=30))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200] * 6
    assert max(int(r[2]) for r in results) == 2


def test_lifespan_state_reaches_each_request(server):
    s = server(*ASGI, "--processes", "2")
    status, _, body = request(s.port, "GET", "/state")
    assert status == 200
    state = json.loads(body)
    assert state["started"] == "yes"
    assert "lifespan startup complete" in s.log()
    s.stop()
    # Shutdown ran in each worker on the graceful stop.
    assert s.log().count("asgi_app: lifespan shutdown in") == 2


def test_lifespan_off(server):
    s = server(*ASGI, "--processes", "1", "--lifespan", "off")
    _, _, body = request(s.port, "GET", "/scope")
    assert json.loads(body)["has_state"] is False
    assert "lifespan startup complete" not in s.log()


def test_lifespan_auto_goes_on_without_an_app_that_lacks_it(server):
    s = server(*ASGI, "--processes", "1", env={"ASGI_APP_LIFESPAN": "none"})
    assert http_get(s.port, "/hello") == (200, b"Hello, world!")
    assert "does not support lifespan" in s.log()


def test_a_failed_lifespan_startup_stops_the_server(tmp_path):
    s = Server(ASGI + ["--processes", "2"], tmp_path, env={"ASGI_APP_LIFESPAN": "fail"}, wait=False)
    try:
        s.proc.wait(timeout=20)
    except Exception:
        s.stop()
        raise
    assert s.proc.returncode != 0
    log = s.log()
    assert "the database is not there" in log
    # No respawn loop: each worker slot failed once at most.
    assert log.count("lifespan startup failed") <= 2
    s.logfile.close()


def test_lifespan_on_refuses_an_app_without_it(tmp_path):
    s = Server(ASGI + ["--processes", "1", "--lifespan", "on"], tmp_path, env={"ASGI_APP_LIFESPAN": "none"},
               wait=False)
    try:
        s.proc.wait(timeout=20)
    except Exception:
        s.stop()
        raise
    assert s.proc.returncode != 0
    assert "no lifespan here" in s.log()
    s.logfile.close()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_event_loop_is_chosen(server, loop):
    s = server(*ASGI, "--processes", "1", "--asgi-loop", loop)
    assert http_get(s.port, "/hello") == (200, b"Hello, world!")
    _, _, body = request(s.port, "GET", "/sleep?ms=50")
    assert body == b"slept"
    assert f"asgi: event loop: {loop}" in s.log()


def test_module_and_callable(server):
    s = server("--plugin", "asgi", "--plugin", "http", "--pythonpath", str(APPS), "--module", "asgi_app:app",
               "--processes", "1")
    assert http_get(s.port, "/hello") == (200, b"Hello, world!")
    assert "asgi: loaded asgi_app:app" in s.log()


def uwsgi_request(port, vars, body=b""):
    payload = b""
    for k, v in vars.items():
        k, v = k.encode(), v.encode()
        payload += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(struct.pack("<BHB", 0, len(payload), 0) + payload + body)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    return data


def test_over_the_uwsgi_protocol(server):
    port = free_port()
    s = server("--plugin", "asgi", "--plugin", "uwsgi", "--plugin", "http", "--socket", f"127.0.0.1:{port}",
               "--asgi-file", APP, "--processes", "1")
    data = uwsgi_request(port, {"REQUEST_METHOD": "POST", "REQUEST_URI": "/app/scope?x=1", "PATH_INFO": "/scope",
                                "QUERY_STRING": "x=1", "SCRIPT_NAME": "/app", "SERVER_PROTOCOL": "HTTP/1.1",
                                "SERVER_NAME": "example", "SERVER_PORT": "80", "REMOTE_ADDR": "10.1.2.3",
                                "REMOTE_PORT": "4444", "HTTP_HOST": "example", "HTTP_X_THING": "yes",
                                "CONTENT_LENGTH": "0"})
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    scope = json.loads(body)
    assert scope["path"] == "/scope"
    assert scope["root_path"] == "/app"
    assert scope["query_string"] == "x=1"
    assert scope["method"] == "POST"
    assert scope["client"] == ["10.1.2.3", 4444]
    assert ["x-thing", "yes"] in scope["headers"]
    echo = uwsgi_request(port, {"REQUEST_METHOD": "POST", "REQUEST_URI": "/echo", "PATH_INFO": "/echo",
                                "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_LENGTH": "5"}, b"hello")
    assert echo.endswith(b"hello"), echo
