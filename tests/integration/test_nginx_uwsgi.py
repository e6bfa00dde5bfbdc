"""nginx's uwsgi_pass in front of trellis's uwsgi plugin, end to end.

A real nginx (nginx_support.Nginx, stock /etc/nginx/uwsgi_params) proxies to
trellis over TCP and over a UNIX socket; the WSGI application is
apps/nginx_app.py.
"""
import hashlib
import http.client
import json
import time
from types import SimpleNamespace

import pytest

from conftest import APPS, free_port, wait_for_port
from nginx_support import UwsgiCapture, nginx, parse_uwsgi_packet, require_nginx, wait_until  # noqa: F401

APP = APPS / "nginx_app.py"
MiB = 1024 * 1024

pytestmark = pytest.mark.usefixtures("needs_nginx")


@pytest.fixture
def needs_nginx():
    require_nginx()


def payload(size):
    import random
    return random.Random(20240611).randbytes(size)  # as apps/nginx_app.py does


def sha(data):
    return hashlib.sha256(data).hexdigest()


def start_trellis(server, tmp_path, transport, *extra):
    """trellis serving APP over the uwsgi protocol only; returns it and the
    address for uwsgi_pass."""
    base = ("--plugin", "python", "--plugin", "uwsgi", "--wsgi-file", str(APP))
    if transport == "tcp":
        port = free_port()
        s = server(*base, "--socket", f"127.0.0.1:{port}", *extra, http=False, port=port)
        return s, f"127.0.0.1:{port}"
    path = tmp_path / "trellis.sock"
    assert len(str(path)) < 100, f"UNIX socket path too long: {path}"
    s = server(*base, "--socket", str(path), *extra, http=False, wait=False)
    if not s.wait_log("workers are ready", timeout=15):
        raise RuntimeError("trellis did not start:\n" + s.log())
    assert path.is_socket()
    return s, f"unix:{path}"


@pytest.fixture(params=["tcp", "unix"])
def transport(request):
    return request.param


@pytest.fixture
def stack(server, nginx, tmp_path, transport):
    """stack(*trellis_args, **nginx_kw): trellis behind nginx."""

    def make(*extra, **nginx_kw):
        trellis, upstream = start_trellis(server, tmp_path, transport, *extra)
        ng = nginx(upstream, **nginx_kw)
        return SimpleNamespace(trellis=trellis, nginx=ng, upstream=upstream, port=ng.port)

    return make


class Reply(SimpleNamespace):
    def json(self):
        return json.loads(self.body)


def request(port, method="GET", path="/", headers=(), body=None, chunked=False, timeout=30):
    """One request over a fresh connection. `headers` is a list of pairs, so a
    name may repeat. Returns status, headers (lower-case names), body and the
    client's own port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
        client_port = conn.sock.getsockname()[1]
        names = {n.lower() for n, _ in headers}
        conn.putrequest(method, path, skip_host="host" in names, skip_accept_encoding=True)
        for n, v in headers:
            conn.putheader(n, v)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if chunked:
            for piece in body:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        elif body is not None:
            conn.send(body)
        resp = conn.getresponse()
        return Reply(status=resp.status, headers={k.lower(): v for k, v in resp.getheaders()},
                     body=resp.read(), client_port=client_port)
    finally:
        conn.close()


# --- the CGI variables nginx's uwsgi_params sends --------------------------

def test_get_with_query_string_arrives_as_nginx_sent_it(stack):
    st = stack()
    r = request(st.port, "GET", "/env/a%20b/c?x=1&y=%C3%A9&empty=",
                headers=[("Host", f"App.Example:{st.port}"), ("User-Agent", "trellis-nginx-test/1.0")])
    assert r.status == 200, r.body
    env = r.json()
    assert env["REQUEST_METHOD"] == "GET"
    assert env["PATH_INFO"] == "/env/a b/c"  # nginx's $document_uri: decoded
    assert env["QUERY_STRING"] == "x=1&y=%C3%A9&empty="
    assert env["REQUEST_URI"] == "/env/a%20b/c?x=1&y=%C3%A9&empty="
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REQUEST_SCHEME"] == "http"
    assert env["wsgi.url_scheme"] == "http"
    assert "HTTPS" not in env  # uwsgi_params: "if_not_empty"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["REMOTE_PORT"] == str(r.client_port)
    assert env["SERVER_NAME"] == "trellis.test"  # nginx's $server_name
    assert env["SERVER_PORT"] == str(st.port)
    # Debian's uwsgi_params sends HTTP_HOST as $host: lower-cased, no port;
    # the client's own Host header is then not passed a second time.
    assert env["HTTP_HOST"] == "app.example"
    assert env["HTTP_USER_AGENT"] == "trellis-nginx-test/1.0"
    assert env["DOCUMENT_ROOT"] == str(st.nginx.prefix / "html")
    assert env["CONTENT_LENGTH"] == "" and env["CONTENT_TYPE"] == ""
    assert env["SCRIPT_NAME"] == ""
    assert env["_body"] == ""
    # The request really went through nginx and was logged by it.
    assert wait_until(lambda: "/env/a%20b/c?x=1" in st.nginx.access_log())


def test_post_of_one_mib_is_read_whole(stack):
    st = stack()
    body = payload(MiB)
    r = request(st.port, "POST", "/upload", headers=[("Content-Type", "application/octet-stream")], body=body)
    assert r.status == 200, r.body
    assert r.json() == {"length": MiB, "sha256": sha(body), "content_length": str(MiB)}


def test_post_larger_than_post_buffering_is_spooled_and_read_whole(stack):
    st = stack("--post-buffering", "65536")
    body = payload(3 * MiB + 17)
    r = request(st.port, "POST", "/upload", body=body)
    assert r.status == 200, r.body
    assert r.json() == {"length": len(body), "sha256": sha(body), "content_length": str(len(body))}


def test_chunked_request_body_is_readable_in_full(stack):
    st = stack()
    body = payload(200_000 + 3)
    pieces = [body[i:i + 7919] for i in range(0, len(body), 7919)]
    r = request(st.port, "POST", "/upload", body=pieces, chunked=True)
    assert r.status == 200, r.body
    # nginx buffers the chunked body and sends its length as CONTENT_LENGTH.
    assert r.json() == {"length": len(body), "sha256": sha(body), "content_length": str(len(body))}


def test_chunked_request_body_in_environ(stack):
    st = stack()
    r = request(st.port, "POST", "/env", headers=[("Content-Type", "text/plain")],
                body=[b"hello ", b"chunked ", b"world"], chunked=True)
    assert r.status == 200, r.body
    env = r.json()
    assert env["_body"] == "hello chunked world"
    assert env["CONTENT_LENGTH"] == "19"
    assert env["CONTENT_TYPE"] == "text/plain"


# --- large responses --------------------------------------------------------

@pytest.mark.parametrize("mode", ["stream", "bytes"])
def test_ten_mib_response(stack, mode):
    st = stack()
    size = 10 * MiB
    r = request(st.port, "GET", f"/big?size={size}&mode={mode}")
    assert r.status == 200
    assert len(r.body) == size
    assert sha(r.body) == sha(payload(size))
    if mode == "bytes":
        # One bytes object: trellis knows the length and says so; nginx keeps it.
        assert r.headers.get("content-length") == str(size)


# --- headers ----------------------------------------------------------------

def test_sixty_custom_headers(stack):
    st = stack()
    headers = [(f"X-Custom-{i:02d}", f"value-{i}-" + "v" * i) for i in range(60)]
    r = request(st.port, "GET", "/env", headers=headers)
    assert r.status == 200, r.body
    env = r.json()
    for i in range(60):
        assert env[f"HTTP_X_CUSTOM_{i:02d}"] == f"value-{i}-" + "v" * i
    assert len([k for k in env if k.startswith("HTTP_X_CUSTOM_")]) == 60


def test_six_kib_header_value(stack):
    st = stack()
    big = "".join(chr(ord("a") + i % 26) for i in range(6 * 1024))
    r = request(st.port, "GET", "/env", headers=[("X-Large", big), ("X-After", "after")])
    assert r.status == 200, r.body
    env = r.json()
    assert env["HTTP_X_LARGE"] == big
    assert env["HTTP_X_AFTER"] == "after"


def test_cookie_header(stack):
    st = stack()
    r = request(st.port, "GET", "/env", headers=[("Cookie", "session=abc123; theme=dark; empty=")])
    assert r.status == 200, r.body
    assert r.json()["HTTP_COOKIE"] == "session=abc123; theme=dark; empty="


def test_two_cookie_headers_both_reach_the_app(stack):
    # HTTP/1.1 clients may split cookies over several Cookie fields; nginx
    # passes each as its own HTTP_COOKIE var (see the capture test below).
    # The application must see them all, joined with "; " (RFC 6265).
    st = stack()
    r = request(st.port, "GET", "/env", headers=[("Cookie", "a=1"), ("Cookie", "b=2; c=3")])
    assert r.status == 200, r.body
    assert r.json()["HTTP_COOKIE"] == "a=1; b=2; c=3"


def test_repeated_header_fields_are_joined(stack):
    st = stack()
    r = request(st.port, "GET", "/env", headers=[("X-Multi", "one"), ("X-Multi", "two")])
    assert r.status == 200, r.body
    assert r.json()["HTTP_X_MULTI"] == "one, two"


def test_what_nginx_sends_for_repeated_fields(nginx):
    # Pins the premise of the two tests above: nginx 1.22 sends one var per
    # header field, in order, and does not join them itself.
    cap = UwsgiCapture()
    try:
        ng = nginx(f"127.0.0.1:{cap.port}")
        r = request(ng.port, "GET", "/x", headers=[("Cookie", "a=1"), ("Cookie", "b=2; c=3"),
                                                   ("X-Multi", "one"), ("X-Multi", "two")])
        assert r.status == 200 and r.body == b"ok\n"
        assert wait_until(lambda: len(cap.packets) == 1)
        mod1, mod2, pairs, rest = parse_uwsgi_packet(cap.packets[0])
    finally:
        cap.close()
    assert (mod1, mod2, rest) == (0, 0, b"")
    assert [v for k, v in pairs if k == "HTTP_COOKIE"] == ["a=1", "b=2; c=3"]
    assert [v for k, v in pairs if k == "HTTP_X_MULTI"] == ["one", "two"]


# --- a packet larger than --buffer-size --------------------------------------

@pytest.mark.parametrize("body_size", [0, 4 * MiB], ids=["no_body", "4MiB_body"])
def test_packet_over_buffer_size_is_refused_and_trellis_keeps_serving(stack, body_size):
    # trellis refuses the packet after its 4-byte header (datasize 8 KiB+ >
    # 4096): one log line, the connection closes without a reply, so nginx
    # answers 502 Bad Gateway (as with uWSGI), and trellis keeps serving.
    st = stack("--buffer-size", "4096")
    big = "x" * (8 * 1024)
    body = payload(body_size) if body_size else None
    r = request(st.port, "POST" if body else "GET", "/upload", headers=[("X-Big", big)], body=body)
    assert r.status == 502, (r.status, r.body)
    assert st.trellis.wait_log("exceeds buffer-size 4096")
    refusals = [line for line in st.trellis.log().splitlines() if "exceeds buffer-size" in line]
    assert len(refusals) == 1, refusals
    assert "uwsgi: refused request from " in refusals[0] and "vars block of" in refusals[0]
    assert " W " in refusals[0]  # the client's fault: a warning, not an error
    # The next ordinary requests through the same nginx are served.
    for _ in range(3):
        ok = request(st.port, "GET", "/whoami")
        assert ok.status == 200 and "token" in ok.json()
    small = request(st.port, "POST", "/upload", headers=[("X-Small", "x" * 1000)], body=b"abc")
    assert small.status == 200 and small.json()["length"] == 3


def test_body_over_limit_post_is_refused_and_trellis_keeps_serving(stack):
    st = stack("--limit-post", "65536")
    r = request(st.port, "POST", "/upload", body=payload(MiB))
    assert r.status == 413, (r.status, r.body)
    assert st.trellis.wait_log(f"body of {MiB} bytes exceeds limit-post 65536")
    ok = request(st.port, "POST", "/upload", body=payload(65536))
    assert ok.status == 200 and ok.json()["length"] == 65536


# --- scheme and HEAD --------------------------------------------------------

def test_https_flag_from_nginx_sets_url_scheme(stack):
    # As behind a TLS-terminating nginx: uwsgi_params' "HTTPS $https
    # if_not_empty" sends HTTPS=on; here it is forced with an extra param.
    st = stack(location_extra="            uwsgi_param HTTPS on;")
    env = request(st.port, "GET", "/env").json()
    assert env["HTTPS"] == "on"
    assert env["wsgi.url_scheme"] == "https"


def test_head_request_has_no_body(stack):
    st = stack()
    r = request(st.port, "HEAD", f"/big?size={MiB}&mode=bytes")
    assert r.status == 200
    assert r.body == b""
    after = request(st.port, "GET", "/whoami")
    assert after.status == 200


# --- --socket and --http-socket in one trellis --------------------------------

def test_response_ends_before_the_iterable_close_returns(stack, tmp_path):
    # A streamed body has no length: nginx ends its reply when trellis ends
    # the stream. The body's close() blocks until the gate file exists, which
    # this test creates only after nginx's reply is complete.
    s = stack()
    gate = tmp_path / "gate"
    r = request(s.port, path=f"/gated?gate={gate}", timeout=5)
    assert r.status == 200 and r.body == b"gated body"
    assert not (tmp_path / "gate.closed").exists()  # close() is still waiting
    gate.touch()
    deadline = time.monotonic() + 15
    while not (tmp_path / "gate.closed").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "gate.closed").exists()


def test_uwsgi_and_http_sockets_serve_the_same_app(server, nginx):
    uport = free_port()
    s = server("--plugin", "python", "--plugin", "http", "--plugin", "uwsgi", "--socket", f"127.0.0.1:{uport}",
               "--wsgi-file", str(APP))  # conftest adds --http-socket on s.port and waits for it
    assert wait_for_port(uport, s.proc)
    ng = nginx(f"127.0.0.1:{uport}")
    via_nginx = request(ng.port, "GET", "/whoami")
    direct = request(s.port, "GET", "/whoami")
    assert via_nginx.status == direct.status == 200
    assert via_nginx.json() == direct.json()  # same process, same imported app
    # Both protocols run the same routes end to end.
    body = payload(100_000)
    for port in (ng.port, s.port):
        r = request(port, "POST", "/upload", body=body)
        assert r.json() == {"length": len(body), "sha256": sha(body), "content_length": str(len(body))}
    e_nginx = request(ng.port, "GET", "/env/p?q=1").json()
    e_http = request(s.port, "GET", "/env/p?q=1").json()
    for key in ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "SERVER_PROTOCOL", "REMOTE_ADDR"):
        assert e_nginx[key] == e_http[key], key
    assert e_nginx["SERVER_PORT"] == str(ng.port) and e_http["SERVER_PORT"] == str(s.port)
    assert "DOCUMENT_ROOT" in e_nginx and "DOCUMENT_ROOT" not in e_http
