"""--http-socket driven by real clients and a real reverse proxy, as an
independent acceptance tester would: nginx (proxy_pass, HTTP/1.0 and
HTTP/1.1 + upstream keepalive, buffered and unbuffered), curl, requests,
urllib3, http.client, httpx, aiohttp, ApacheBench and wrk.

Self-contained: every trellis and nginx is started here on free loopback
ports (the binary from TESTS_TRELLIS_BIN), apps and configs live in pytest's
tmp dirs, and everything is stopped at the end even on failure. Tools that
are missing skip their tests.
"""
import asyncio
import grp
import hashlib
import http.client
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

requests = pytest.importorskip("requests")

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(os.environ.get("TESTS_TRELLIS_BIN",
                          Path(os.environ.get("TESTS_BUILD_DIR", ROOT / "build")) / "bin" / "trellis"))
NGINX = Path("/usr/sbin/nginx")

# ---------------------------------------------------------------- the app

APP = r'''
import gzip, hashlib, json, os, signal, time

PIECE = b"0123456789abcdef" * 4096


def _send(start_response, body, ctype="text/plain", status="200 OK", extra=()):
    start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body))), *extra])
    return [body]


def _gen(n):
    left = n
    while left > 0:
        k = min(left, len(PIECE))
        yield PIECE[:k]
        left -= k


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/env":
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        return _send(start_response, json.dumps(out).encode(), "application/json")
    if path == "/port":
        # Which TCP connection (client port) and which worker served this.
        return _send(start_response, ("%s:%s" % (environ.get("REMOTE_PORT"), os.getpid())).encode())
    if path == "/echo":
        body = environ["wsgi.input"].read()
        return _send(start_response, body, "application/octet-stream")
    if path == "/echo-stream":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (body[i:i + 4096] for i in range(0, len(body), 4096))
    if path == "/readexact":
        # Django/werkzeug style: exactly CONTENT_LENGTH bytes, never to EOF.
        n = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(n)
        return _send(start_response, b"%d %s" % (len(body), hashlib.sha256(body).hexdigest().encode()))
    if path == "/sha":
        h = hashlib.sha256()
        n = 0
        inp = environ["wsgi.input"]
        while True:
            b = inp.read(65536)
            if not b:
                break
            h.update(b)
            n += len(b)
        return _send(start_response, ("%d %s" % (n, h.hexdigest())).encode())
    if path.startswith("/big/"):
        n = int(path[5:])
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(n))])
        return _gen(n)
    if path.startswith("/stream/"):
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return _gen(int(path[8:]))
    if path == "/ticks":
        start_response("200 OK", [("Content-Type", "text/plain")])
        def ticks():
            for i in range(4):
                yield b"tick-%d\n" % i
                time.sleep(0.25)
        return ticks()
    if path.startswith("/status/"):
        code = path[8:]
        reasons = {"204": "No Content", "304": "Not Modified"}
        start_response("%s %s" % (code, reasons.get(code, "X")), [("ETag", '"v1"')])
        return [b""]
    if path == "/error":
        raise RuntimeError("boom from the app")
    if path == "/crash":
        os.kill(os.getpid(), signal.SIGKILL)
    if path == "/gzip":
        raw = b"compress me please " * 2000
        if "gzip" in environ.get("HTTP_ACCEPT_ENCODING", ""):
            return _send(start_response, gzip.compress(raw), extra=[("Content-Encoding", "gzip"), ("Vary", "Accept-Encoding")])
        return _send(start_response, raw)
    if path.startswith("/sleep/"):
        time.sleep(int(path[7:]) / 1000)
        return _send(start_response, b"slept")
    return _send(start_response, b"hello " + path.encode("latin-1"))
'''

PIECE = b"0123456789abcdef" * 4096


def expected_bytes(n):
    return (PIECE * (n // len(PIECE) + 1))[:n]


# ------------------------------------------------------ process plumbing

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Polls predicate() until it is true or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def tcp_connections_with(port):
    """States of the IPv4 TCP sockets with `port` at one end other than the
    listening one (/proc/net/tcp: 1 ESTABLISHED, 6 TIME_WAIT, 10 LISTEN)."""
    states = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            ports = (int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16))
            if port in ports and int(p[3], 16) != 10:
                states.append(int(p[3], 16))
    return states


def kill_group(proc, sig=signal.SIGTERM, timeout=10):
    if proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
    # Workers share the master's session: none may be left behind.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Trellis:
    def __init__(self, directory, *extra, processes=2, threads=1):
        if not BIN.exists():
            pytest.skip(f"trellis binary not found at {BIN} (set TESTS_TRELLIS_BIN)")
        self.port = free_port()
        self.dir = Path(directory)
        self.app = self.dir / "app.py"
        if not self.app.exists():
            self.app.write_text(APP)
        self.log_path = self.dir / f"trellis-{self.port}.log"
        self.logfile = open(self.log_path, "wb")
        args = [str(BIN), "--plugin", "python", "--plugin", "http", "--http-socket", f"127.0.0.1:{self.port}",
                "--wsgi-file", str(self.app), "--processes", str(processes)]
        if threads > 1:
            args += ["--threads", str(threads)]
        args += list(extra)
        self.proc = subprocess.Popen(args, stdout=self.logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if "workers are ready" in self.log() and port_open(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("trellis did not start:\n" + self.log())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        kill_group(self.proc)
        self.logfile.close()


NGINX_CONF = """\
user {user} {group};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 1024; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_max_body_size 64m;
    proxy_read_timeout 20s;
    proxy_send_timeout 20s;
    upstream trellis_keepalive {{
        server {upstream_server};
        keepalive 16;
    }}
    server {{
        listen 127.0.0.1:{port};
        # Default: HTTP/1.0 to the upstream, one connection per request.
        location / {{
            proxy_pass http://{upstream_pass};
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $host;
            proxy_set_header X-Real-IP $remote_addr;
        }}
        # HTTP/1.1 with connection reuse.
        location /ka/ {{
            proxy_pass http://trellis_keepalive/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
        # Same, unbuffered both ways: bodies stream through as they come.
        location /nb/ {{
            proxy_pass http://trellis_keepalive/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_request_buffering off;
        }}
    }}
}}
"""

# What nginx says when an upstream misbehaves.
BAD_UPSTREAM = re.compile(r"upstream prematurely closed|upstream sent |"
                          r"failed .*(from upstream|to upstream|reading upstream)|"
                          r"\[crit\]|\[alert\]|\[emerg\]")


class Nginx:
    def __init__(self, directory, upstream_port):
        if not NGINX.exists():
            pytest.skip(f"{NGINX} not found: install Debian's nginx-light")
        self.port = free_port()
        if str(upstream_port).startswith("unix:"):
            server, target = upstream_port, upstream_port + ":"  # proxy_pass http://unix:/path:;
        else:
            server = target = f"127.0.0.1:{upstream_port}"
        self.prefix = Path(directory) / f"nginx-{self.port}"
        (self.prefix / "tmp").mkdir(parents=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(user=pwd.getpwuid(os.geteuid()).pw_name,
                                          group=grp.getgrgid(os.getegid()).gr_name,
                                          prefix=self.prefix, port=self.port, upstream_server=server,
                                          upstream_pass=target))
        self.out = open(self.prefix / "stderr.log", "wb")
        self.proc = subprocess.Popen([str(NGINX), "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=self.out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None and not port_open(self.port):
            time.sleep(0.05)
        if not port_open(self.port):
            self.stop()
            raise RuntimeError("nginx did not start:\n" + self.error_log())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def access_log(self):
        p = self.prefix / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def error_log(self):
        p = self.prefix / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def mark(self):
        return len(self.error_log())

    def bad_lines(self, since=0):
        return [line for line in self.error_log()[since:].splitlines() if BAD_UPSTREAM.search(line)]

    def stop(self):
        kill_group(self.proc, timeout=5)
        self.out.close()


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("real_clients")


@pytest.fixture(scope="module")
def threaded(workdir):
    """--processes 2 --threads 4"""
    t = Trellis(workdir, processes=2, threads=4)
    yield t
    t.stop()


@pytest.fixture(scope="module")
def forked(workdir):
    """--processes 2 (one application thread each)"""
    t = Trellis(workdir, processes=2)
    yield t
    t.stop()


@pytest.fixture(scope="module", params=["forked", "threaded"])
def srv(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def ngx(workdir, threaded):
    n = Nginx(workdir, threaded.port)
    yield n
    n.stop()


@pytest.fixture
def own(tmp_path):
    """Starts a private trellis (and nginx) for tests that kill or reload."""
    started = []

    def start_trellis(*extra, **kw):
        t = Trellis(tmp_path, *extra, **kw)
        started.append(t)
        return t

    def start_nginx(upstream):
        n = Nginx(tmp_path, upstream.port)
        started.append(n)
        return n

    yield start_trellis, start_nginx
    for p in reversed(started):
        p.stop()


PREFIXES = ["/", "/ka/", "/nb/"]


def run(args, timeout=60, **kw):
    return subprocess.run(args, capture_output=True, timeout=timeout, **kw)


# ------------------------------------------------------------------ nginx

def test_nginx_http10_upstream_one_connection_per_request(ngx):
    with requests.Session() as s:
        ports = {s.get(ngx.url + "/port", timeout=10).text.split(":")[0] for _ in range(40)}
        env = s.get(ngx.url + "/env", timeout=10).json()
    assert len(ports) == 40
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0"


@pytest.mark.parametrize("prefix", ["/ka/", "/nb/"])
def test_nginx_keepalive_upstream_reuses_connections(ngx, prefix):
    with requests.Session() as s:
        seen = [s.get(ngx.url + prefix + "port", timeout=10).text for _ in range(100)]
        env = s.get(ngx.url + prefix + "env", timeout=10).json()
    conns = {p.split(":")[0] for p in seen}
    # Sequential requests: nginx takes its one cached connection every time.
    assert len(conns) <= 2, conns
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert "HTTP_CONNECTION" not in env


@pytest.mark.parametrize("prefix", PREFIXES)
def test_nginx_post_bodies_length_and_chunked(ngx, prefix):
    url = ngx.url + prefix
    data = os.urandom(3_000_000)
    with requests.Session() as s:
        r = s.post(url + "echo", data=b"a" * 100_000, timeout=20)
        assert r.status_code == 200 and r.content == b"a" * 100_000
        r = s.post(url + "sha", data=data, timeout=20)
        assert r.text == "%d %s" % (len(data), hashlib.sha256(data).hexdigest())

        def gen():
            for i in range(0, len(data), 100_000):
                yield data[i:i + 100_000]
        # Chunked from the client; with /nb/ nginx streams it on chunked.
        r = s.post(url + "sha", data=gen(), timeout=20)
        assert r.text == "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
        r = s.post(url + "echo-stream", data=gen(), timeout=20)
        assert r.status_code == 200 and r.content == data
        r = s.get(url + "port", timeout=10)
        assert r.status_code == 200


def test_nginx_slow_chunked_upload_unbuffered(ngx):
    """proxy_request_buffering off: the body trickles through nginx to trellis."""
    data = os.urandom(2_000_000)
    conn = http.client.HTTPConnection("127.0.0.1", ngx.port, timeout=20)
    try:
        def gen():
            for i in range(0, len(data), 50_000):
                yield data[i:i + 50_000]
                time.sleep(0.005)
        for path in ("/nb/sha", "/nb/sha"):
            conn.request("POST", path, body=gen(), encode_chunked=True, headers={"Transfer-Encoding": "chunked"})
            r = conn.getresponse()
            assert (r.status, r.read().decode()) == (200, "%d %s" % (len(data), hashlib.sha256(data).hexdigest()))
    finally:
        conn.close()


@pytest.mark.parametrize("prefix", PREFIXES)
def test_nginx_large_and_streamed_responses(ngx, prefix):
    url = ngx.url + prefix
    with requests.Session() as s:
        for route in ("big", "stream"):
            r = s.get(url + f"{route}/5000000", timeout=20)
            assert r.status_code == 200 and r.content == expected_bytes(5_000_000), route


def test_nginx_unbuffered_stream_arrives_incrementally(ngx):
    r = requests.get(ngx.url + "/nb/ticks", stream=True, timeout=10)
    t0 = time.monotonic()
    lines = r.iter_lines()
    assert next(lines) == b"tick-0"
    first = time.monotonic() - t0
    rest = list(lines)
    assert rest == [b"tick-1", b"tick-2", b"tick-3"]
    assert first < 0.5 < time.monotonic() - t0


def test_nginx_unbuffered_slow_readers(ngx):
    errors = []

    def reader():
        try:
            r = requests.get(ngx.url + "/nb/stream/3000000", stream=True, timeout=30)
            h = hashlib.sha256()
            for chunk in r.iter_content(16384):
                h.update(chunk)
                time.sleep(0.002)
            if h.digest() != hashlib.sha256(expected_bytes(3_000_000)).digest():
                errors.append("corrupt body")
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))
    ts = [threading.Thread(target=reader) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


@pytest.mark.parametrize("prefix", PREFIXES)
def test_nginx_head_204_304(ngx, prefix):
    url = ngx.url + prefix
    with requests.Session() as s:
        r = s.head(url + "big/5000", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Length"] == "5000" and r.content == b""
        r = s.head(url + "stream/5000", timeout=10)
        assert r.status_code == 200 and r.content == b""
        for code in (204, 304):
            r = s.get(url + f"status/{code}", timeout=10)
            assert r.status_code == code and r.content == b"" and r.headers.get("ETag") == '"v1"'
        # The connection (client side and upstream) is still in sync.
        r = s.get(url + "big/10", timeout=10)
        assert r.content == b"0123456789"


def test_nginx_forwarded_headers_reach_environ(ngx):
    env = requests.get(ngx.url + "/env", headers={"X-Forwarded-For": "203.0.113.7"}, timeout=10).json()
    assert env["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 127.0.0.1"
    assert env["HTTP_X_FORWARDED_PROTO"] == "http"
    assert env["HTTP_X_REAL_IP"] == "127.0.0.1"
    assert env["HTTP_X_FORWARDED_HOST"] == "127.0.0.1"
    assert env["REMOTE_ADDR"] == "127.0.0.1"
    env = requests.get(ngx.url + "/ka/env", timeout=10).json()
    assert env["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    assert env["HTTP_HOST"] == "trellis_keepalive"
    assert env["SERVER_NAME"] == "trellis_keepalive"


@pytest.mark.parametrize("prefix", PREFIXES)
def test_nginx_app_error_is_500_and_upstream_stays_usable(ngx, prefix):
    mark = ngx.mark()
    with requests.Session() as s:
        for _ in range(3):
            r = s.get(ngx.url + prefix + "error", timeout=10)
            assert r.status_code == 500
            assert s.get(ngx.url + prefix + "big/10", timeout=10).content == b"0123456789"
    assert ngx.bad_lines(mark) == []


def test_nginx_mixed_run_leaves_no_upstream_errors(ngx):
    """Many concurrent mixed requests through all three locations: nginx must
    not log a single complaint about the upstream."""
    mark = ngx.mark()
    errors = []
    body = os.urandom(200_000)

    def client(i):
        try:
            with requests.Session() as s:
                for k in range(6):
                    prefix = PREFIXES[(i + k) % 3]
                    url = ngx.url + prefix
                    kind = (i * 7 + k) % 6
                    if kind == 0:
                        r = s.get(url + "big/300000", timeout=20)
                        ok = r.content == expected_bytes(300_000)
                    elif kind == 1:
                        r = s.get(url + "stream/300000", timeout=20)
                        ok = r.content == expected_bytes(300_000)
                    elif kind == 2:
                        r = s.post(url + "echo", data=body, timeout=20)
                        ok = r.content == body
                    elif kind == 3:
                        r = s.post(url + "echo", data=iter([body[:1000], body[1000:]]), timeout=20)
                        ok = r.content == body
                    elif kind == 4:
                        r = s.head(url + "stream/1000", timeout=20)
                        ok = r.status_code == 200
                    else:
                        r = s.get(url + "status/304", timeout=20)
                        ok = r.status_code == 304
                    if not ok or r.status_code >= 500:
                        errors.append((i, k, prefix, kind, r.status_code))
        except Exception as e:  # noqa: BLE001
            errors.append((i, repr(e)))
    ts = [threading.Thread(target=client, args=(i,)) for i in range(30)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert ngx.bad_lines(mark) == []


def test_nginx_to_unix_http_socket(own, tmp_path):
    """proxy_pass http://unix:/path: and an upstream keepalive pool on it."""
    start_trellis, start_nginx = own
    sock = tmp_path / "trellis-http.sock"
    t = Trellis.__new__(Trellis)  # port-less: built by hand below
    t.dir = tmp_path
    (tmp_path / "app.py").write_text(APP)
    t.log_path = tmp_path / "trellis-unix.log"
    t.logfile = open(t.log_path, "wb")
    if not BIN.exists():
        pytest.skip(f"trellis binary not found at {BIN}")
    t.proc = subprocess.Popen([str(BIN), "--plugin", "python", "--plugin", "http", "--http-socket", str(sock),
                               "--wsgi-file", str(tmp_path / "app.py"), "--processes", "2", "--threads", "2"],
                              stdout=t.logfile, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                              start_new_session=True)
    ng = None
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ("workers are ready" in t.log() and sock.exists()):
            assert t.proc.poll() is None, t.log()
            time.sleep(0.05)
        fake = type("U", (), {"port": f"unix:{sock}"})
        ng = start_nginx(fake)
        mark = ng.mark()
        data = os.urandom(1_500_000)
        with requests.Session() as s:
            for prefix in PREFIXES:
                url = ng.url + prefix
                assert s.get(url + "big/200000", timeout=10).content == expected_bytes(200_000)
                assert s.get(url + "stream/200000", timeout=10).content == expected_bytes(200_000)
                assert s.post(url + "echo", data=data, timeout=10).content == data
                assert s.post(url + "echo", data=iter([data[:10], data[10:]]), timeout=10).content == data
                assert s.get(url + "status/304", timeout=10).status_code == 304
            ports = {s.get(ng.url + "/ka/port", timeout=10).text for _ in range(20)}
        assert len(ports) <= 2
        assert ng.bad_lines(mark) == []
    finally:
        if ng is not None:
            ng.stop()  # first: its idle upstream connections would hold trellis' drain
        t.stop()


def test_max_requests_recycle_with_an_idle_keepalive_client_does_not_stall_new_clients(own):
    """Found by this review (fixed): the master replaced a worker recycled by
    --max-requests only once it exited, which its idle keep-alive clients
    delayed by --keepalive-timeout, and nobody accepted meanwhile."""
    start_trellis, _ = own
    t = start_trellis("--max-requests", "3", processes=1)
    idle = http.client.HTTPConnection("127.0.0.1", t.port, timeout=20)
    busy = http.client.HTTPConnection("127.0.0.1", t.port, timeout=20)
    fresh = http.client.HTTPConnection("127.0.0.1", t.port, timeout=20)
    try:
        idle.request("GET", "/port")  # a browser-like client: keeps its connection, sends nothing more
        assert idle.getresponse().read()
        for _ in range(2):  # the third request of the worker: it recycles
            busy.request("GET", "/port")
            assert busy.getresponse().read()
        t0 = time.monotonic()
        fresh.request("GET", "/port")
        r = fresh.getresponse()
        assert r.status == 200 and r.read()
        waited = time.monotonic() - t0
    finally:
        for c in (idle, busy, fresh):
            c.close()
    # uWSGI and gunicorn replace a recycled worker at once.
    assert waited < 2.0, f"a new client waited {waited:.1f} s for a worker"


def test_nginx_keepalive_pool_and_max_requests_no_stall(own):
    """Production shape: nginx keeps idle upstream connections (keepalive 16);
    the worker recycling under --max-requests must not stall the site."""
    start_trellis, start_nginx = own
    t = start_trellis("--max-requests", "10", processes=1)
    ng = start_nginx(t)
    # Four concurrent requests leave four cached, idle upstream connections.
    ts = [threading.Thread(target=requests.get, args=(ng.url + "/ka/sleep/200",), kwargs={"timeout": 10})
          for _ in range(4)]
    for th in ts:
        th.start()
    for th in ts:
        th.join()
    worst = 0.0
    codes = set()
    with requests.Session() as s:
        for _ in range(12):
            t0 = time.monotonic()
            codes.add(s.get(ng.url + "/port", timeout=30).status_code)
            worst = max(worst, time.monotonic() - t0)
    assert codes == {200}
    assert worst < 2.0, f"a request waited {worst:.1f} s while the worker recycled"


def test_nginx_worker_crash_is_502_then_recovers(own):
    start_trellis, start_nginx = own
    t = start_trellis(processes=2)
    ng = start_nginx(t)
    for prefix in PREFIXES:
        r = requests.get(ng.url + prefix + "crash", timeout=10)
        assert r.status_code == 502
        deadline = time.monotonic() + 10
        codes = []
        while time.monotonic() < deadline:
            codes = [requests.get(ng.url + prefix + "port", timeout=10).status_code for _ in range(6)]
            if codes == [200] * 6:
                break
            time.sleep(0.2)
        assert codes == [200] * 6, (prefix, codes)
    assert "upstream prematurely closed connection while reading response header" in ng.error_log()


def test_nginx_idle_keepalive_close_is_clean(own):
    """trellis closes idle upstream connections at its keep-alive timeout;
    nginx must notice (clean FIN) and not send a POST into a dead socket."""
    start_trellis, start_nginx = own
    t = start_trellis("--keepalive-timeout", "1", processes=1)
    ng = start_nginx(t)
    with requests.Session() as s:
        for i in range(2):
            r = s.post(ng.url + "/ka/echo", data=b"x%d" % i, timeout=10)
            assert (r.status_code, r.content) == (200, b"x%d" % i)
            # Idle past trellis' keep-alive timeout: wait until trellis has
            # closed nginx's cached connection and nginx has closed its end
            # too (only TIME_WAIT is left), so the next POST needs a new one.
            assert wait_until(lambda: all(st == 6 for st in tcp_connections_with(t.port)), 10), \
                tcp_connections_with(t.port)
    assert ng.bad_lines() == []


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk not installed")
def test_nginx_graceful_reload_under_keepalive_post_load(own, tmp_path):
    """SIGHUP while nginx keeps POSTing over cached upstream connections:
    nginx never retries a POST, so any connection dropped mid-exchange shows
    as a 502 or as an error in its log."""
    start_trellis, start_nginx = own
    t = start_trellis(processes=2)
    ng = start_nginx(t)
    script = tmp_path / "post.lua"
    script.write_text(WRK_POST_SCRIPT)
    # wrk runs until told to stop (SIGINT: it reports as at the end of -d).
    p = subprocess.Popen(["wrk", "-t2", "-c20", "-d120s", "-s", str(script), ng.url + "/ka/echo"],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def posts():
        return ng.access_log().count("POST /ka/echo")

    def load_goes_on(more=200):
        target = posts() + more
        assert wait_until(lambda: posts() >= target or p.poll() is not None, 30) and p.poll() is None, \
            (posts(), target, p.poll())

    try:
        load_goes_on()
        for generation in (2, 3):
            t.proc.send_signal(signal.SIGHUP)
            assert wait_until(lambda: f"workers are ready (generation {generation})" in t.log(), 30), t.log()
            load_goes_on()  # through the new generation
        p.send_signal(signal.SIGINT)
        out = p.communicate(timeout=30)[0].decode()
    finally:
        if p.poll() is None:
            p.kill()
    assert "requests in" in out, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
    assert "bad=0 " in out, out
    assert ng.bad_lines() == []


# ------------------------------------------------------------------- curl

curl = pytest.mark.skipif(not shutil.which("curl"), reason="curl not installed")


def curl_run(*args, input=None, timeout=30):
    return run(["curl", "-sS", "--max-time", "20", *args], input=input, timeout=timeout)


@curl
def test_curl_http10(srv, tmp_path):
    u = srv.url
    p = curl_run("-v", "--http1.0", f"{u}/big/100000")
    assert p.returncode == 0 and p.stdout == expected_bytes(100_000), p.stderr
    p = curl_run("-v", "--http1.0", f"{u}/stream/300000")
    assert p.returncode == 0 and p.stdout == expected_bytes(300_000), p.stderr
    assert b"< Transfer-Encoding" not in p.stderr and b"< Connection: close" in p.stderr
    p = curl_run("--http1.0", "--data-binary", "@-", f"{u}/echo", input=b"ten bytes!")
    assert p.stdout == b"ten bytes!"
    # HTTP/1.0 keep-alive across URLs, until the close-delimited one.
    p = curl_run("-v", "--http1.0", "-H", "Connection: keep-alive", f"{u}/big/3", f"{u}/port", f"{u}/stream/3",
                 f"{u}/big/2")
    assert p.returncode == 0, p.stderr
    assert p.stderr.count(b"Re-using existing connection") == 2, p.stderr
    assert p.stderr.count(b"Connected to") == 2


@curl
def test_curl_upload_file_with_length_and_expect(srv, tmp_path):
    data = os.urandom(3_000_000)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    want = ("%d %s" % (len(data), hashlib.sha256(data).hexdigest())).encode()
    for route in ("sha", "readexact"):
        # -T FILE: PUT with Content-Length; > 1 MiB makes curl send Expect.
        p = curl_run("-v", "-T", str(f), f"{srv.url}/{route}", "--next", f"{srv.url}/port")
        assert p.returncode == 0, p.stderr
        assert b"> Expect: 100-continue" in p.stderr and b"< HTTP/1.1 100 Continue" in p.stderr
        assert p.stdout.startswith(want), p.stdout[:200]
        assert b"Re-using existing connection" in p.stderr, p.stderr


@curl
def test_curl_upload_chunked_from_stdin(srv):
    data = os.urandom(2_500_000)
    want = ("%d %s" % (len(data), hashlib.sha256(data).hexdigest())).encode()
    p = curl_run("-v", "-T", "-", f"{srv.url}/sha", "--next", f"{srv.url}/port", input=data)
    assert p.returncode == 0, p.stderr
    assert b"> Transfer-Encoding: chunked" in p.stderr
    assert p.stdout.startswith(want), p.stdout[:200]
    assert b"Re-using existing connection" in p.stderr
    p = curl_run("-X", "POST", "-T", "-", f"{srv.url}/echo-stream", input=data)
    assert p.returncode == 0 and p.stdout == data


@curl
def test_curl_data_binary_big_file_expect_continue(srv, tmp_path):
    data = os.urandom(2_000_000)
    f = tmp_path / "big.bin"
    f.write_bytes(data)
    p = curl_run("-v", "--data-binary", f"@{f}", f"{srv.url}/echo", "--next", f"{srv.url}/big/10")
    assert p.returncode == 0, p.stderr
    assert b"< HTTP/1.1 100 Continue" in p.stderr
    assert p.stdout == data + b"0123456789"
    assert b"Re-using existing connection" in p.stderr


@curl
def test_curl_expect_to_app_that_ignores_the_body(srv, tmp_path):
    f = tmp_path / "big.bin"
    f.write_bytes(b"i" * 2_000_000)
    t0 = time.monotonic()
    p = curl_run("-v", "--data-binary", f"@{f}", f"{srv.url}/port", "--next", f"{srv.url}/big/10")
    assert p.returncode == 0, p.stderr
    # No 100 (the body was never read): the final answer comes at once and
    # the connection closes; curl opens a new one for the next URL.
    assert b"100 Continue" not in p.stderr
    assert p.stdout.endswith(b"0123456789")
    assert time.monotonic() - t0 < 5


@curl
@pytest.mark.parametrize("route", ["big", "stream"])
def test_curl_limit_rate_download(srv, route):
    p = curl_run("--limit-rate", "1M", f"{srv.url}/{route}/2000000", f"{srv.url}/big/10")
    assert p.returncode == 0, p.stderr
    assert p.stdout == expected_bytes(2_000_000) + b"0123456789"


@curl
def test_curl_connection_close(srv):
    p = curl_run("-v", "-H", "Connection: close", f"{srv.url}/port", f"{srv.url}/stream/10")
    assert p.returncode == 0, p.stderr
    assert p.stderr.count(b"< Connection: close") == 2
    assert p.stderr.count(b"Connected to") == 2
    assert b"Re-using" not in p.stderr
    assert p.stdout.endswith(b"0123456789"[:10])


@curl
def test_curl_keepalive_across_many_urls(srv):
    u = srv.url
    urls = [f"{u}/port", f"{u}/stream/5", f"{u}/status/204", f"{u}/big/70000", f"{u}/error", f"{u}/status/304",
            f"{u}/gzip", f"{u}/port"]
    p = curl_run("-v", *urls)
    assert p.returncode == 0, p.stderr
    assert p.stderr.count(b"Connected to") == 1, p.stderr
    assert p.stderr.count(b"Re-using existing connection") == len(urls) - 1
    last = re.search(rb"\d+:\d+\Z", p.stdout).group()
    assert p.stdout.startswith(last)  # the same client port and worker at both ends


@curl
def test_curl_compressed(srv):
    p = curl_run("-v", "--compressed", f"{srv.url}/gzip")
    assert p.returncode == 0, p.stderr
    assert b"< Content-Encoding: gzip" in p.stderr
    assert p.stdout == b"compress me please " * 2000


@curl
def test_curl_max_time_then_server_still_serves(srv):
    t0 = time.monotonic()
    p = run(["curl", "-sS", "--max-time", "1", f"{srv.url}/sleep/2500"])
    assert p.returncode == 28 and time.monotonic() - t0 < 2.5
    for _ in range(6):
        assert requests.get(srv.url + "/big/10", timeout=10).content == b"0123456789"
    # The abandoned request finishes (its log line): its worker serves on.
    assert wait_until(lambda: "GET /sleep/2500 =>" in srv.log(), 10), srv.log()[-2000:]
    for _ in range(6):
        assert requests.get(srv.url + "/big/10", timeout=10).content == b"0123456789"


# --------------------------------------------------------- python clients

def test_requests_session_reuses_one_connection_for_100_requests(srv):
    with requests.Session() as s:
        seen = set()
        for i in range(100):
            if i % 3 == 0:
                r = s.post(srv.url + "/echo", data=b"n=%d" % i, timeout=10)
                assert r.content == b"n=%d" % i
            seen.add(s.get(srv.url + "/port", timeout=10).text)
    assert len(seen) == 1, seen


def test_urllib3_pool_reuse(srv):
    urllib3 = pytest.importorskip("urllib3")
    with urllib3.PoolManager(maxsize=1) as pm:
        seen = {pm.request("GET", srv.url + "/port").data for _ in range(50)}
        r = pm.request("POST", srv.url + "/echo", body=iter([b"a" * 5000, b"b" * 5000]), chunked=True)
        assert r.data == b"a" * 5000 + b"b" * 5000
        r = pm.request("GET", srv.url + "/stream/200000", preload_content=False)
        assert b"".join(r.stream(8192)) == expected_bytes(200_000)
        r.release_conn()
        seen.add(pm.request("GET", srv.url + "/port").data)
    assert len(seen) == 1, seen


def test_http_client_reuse_mixed_methods(srv):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        seen = set()
        for i in range(20):
            conn.request("GET", "/port")
            seen.add(conn.getresponse().read())
            conn.request("POST", "/echo", body=b"b%d" % i)
            assert conn.getresponse().read() == b"b%d" % i
            conn.request("HEAD", "/stream/1000")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b""
            conn.request("GET", "/status/204")
            assert conn.getresponse().read() == b""
            conn.request("GET", "/error")
            r = conn.getresponse()
            assert r.status == 500
            r.read()
        assert len(seen) == 1
    finally:
        conn.close()


def test_requests_streaming_download_iter_content(srv):
    with requests.Session() as s:
        for route in ("stream", "big"):
            r = s.get(f"{srv.url}/{route}/4000000", stream=True, timeout=20)
            h = hashlib.sha256()
            for chunk in r.iter_content(65536):
                h.update(chunk)
            assert h.digest() == hashlib.sha256(expected_bytes(4_000_000)).digest()
        assert s.get(srv.url + "/big/3", timeout=10).content == b"012"


def test_requests_generator_upload_is_chunked(srv):
    data = os.urandom(3_000_000)

    def gen():
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]
    with requests.Session() as s:
        r = s.post(srv.url + "/sha", data=gen(), timeout=20)
        assert r.text == "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
        r = s.post(srv.url + "/env", data=iter([b"x"]), timeout=20)
        env = r.json()
        assert env["HTTP_TRANSFER_ENCODING"] == "chunked" and env.get("CONTENT_LENGTH", "") in ("", None)


def test_httpx_client(srv):
    httpx = pytest.importorskip("httpx")
    with httpx.Client(base_url=srv.url, timeout=10) as c:
        seen = {c.get("/port").text for _ in range(30)}
        assert c.get("/stream/100000").content == expected_bytes(100_000)
        assert c.head("/stream/100").content == b""
        assert c.get("/status/304").status_code == 304
        assert c.post("/echo", content=iter([b"h1", b"h2"])).content == b"h1h2"
        assert c.get("/gzip").content == b"compress me please " * 2000
        seen.add(c.get("/port").text)
    assert len(seen) == 1


def test_aiohttp_300_concurrent_echoes(srv):
    aiohttp = pytest.importorskip("aiohttp")

    async def main():
        async with aiohttp.ClientSession() as s:
            async def one(i):
                body = os.urandom(1000 + i * 13)
                async with s.post(srv.url + "/echo", data=body) as r:
                    return await r.read() == body
            res = await asyncio.gather(*[one(i) for i in range(300)])
            async with s.get(srv.url + "/stream/2000000") as r:
                n = 0
                async for chunk in r.content.iter_chunked(65536):
                    n += len(chunk)
            return sum(res), n
    ok, n = asyncio.run(main())
    assert ok == 300 and n == 2_000_000


def test_aiohttp_expect_100_continue(srv):
    aiohttp = pytest.importorskip("aiohttp")

    async def main():
        out = []
        async with aiohttp.ClientSession() as s:
            for n in (10, 3_000_000):
                body = os.urandom(n)
                async with s.post(srv.url + "/echo", data=body, expect100=True) as r:
                    out.append((r.status, await r.read() == body))
            # The app never reads: no 100, a final answer and a close.
            async with s.post(srv.url + "/port", data=b"x" * 3_000_000, expect100=True) as r:
                out.append((r.status, r.headers.get("Connection")))
            async with s.get(srv.url + "/big/3") as r:
                out.append((r.status, await r.read()))
        return out
    assert asyncio.run(main()) == [(200, True), (200, True), (200, "close"), (200, b"012")]


def test_200_concurrent_clients_no_cross_talk(threaded):
    errors = []

    def client(i):
        try:
            body = (b"client-%03d-" % i) * (1 + i * 37 % 700)
            with requests.Session() as s:
                for k in range(3):
                    mine = body + b"%d" % k
                    r = s.post(threaded.url + ("/echo", "/echo-stream")[k % 2], data=mine, timeout=30)
                    if r.status_code != 200 or r.content != mine:
                        errors.append((i, k, r.status_code, r.content[:40]))
        except Exception as e:  # noqa: BLE001
            errors.append((i, repr(e)))
    ts = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []


# --------------------------------------------------------------- ab / wrk

ab = pytest.mark.skipif(not shutil.which("ab"), reason="ab (apache2-utils) not installed")


def ab_stats(out):
    def num(label):
        m = re.search(label + r":\s+(\d+)", out)
        return int(m.group(1)) if m else None
    return {"complete": num("Complete requests"), "failed": num("Failed requests"),
            "keepalive": num("Keep-Alive requests"), "non2xx": num("Non-2xx responses")}


@ab
def test_ab_keepalive(srv):
    out = run(["ab", "-q", "-k", "-n", "2000", "-c", "20", srv.url + "/big/64"]).stdout.decode()
    st = ab_stats(out)
    assert st == {"complete": 2000, "failed": 0, "keepalive": 2000, "non2xx": None}, out


@ab
def test_ab_without_keepalive(srv):
    out = run(["ab", "-q", "-n", "2000", "-c", "20", srv.url + "/big/64"]).stdout.decode()
    st = ab_stats(out)
    assert st["complete"] == 2000 and st["failed"] == 0 and st["non2xx"] is None, out


@ab
def test_ab_keepalive_post_and_head(srv, tmp_path):
    body = tmp_path / "body.txt"
    body.write_bytes(b"sixteen bytes!!!")
    out = run(["ab", "-q", "-k", "-n", "1000", "-c", "10", "-p", str(body), "-T", "text/plain",
               srv.url + "/echo"]).stdout.decode()
    assert ab_stats(out) == {"complete": 1000, "failed": 0, "keepalive": 1000, "non2xx": None}, out
    assert "Document Length:        16 bytes" in out
    # HEAD of a streamed response has no body: keep-alive holds for HTTP/1.0.
    out = run(["ab", "-q", "-k", "-i", "-n", "500", "-c", "10", srv.url + "/stream/100"]).stdout.decode()
    assert ab_stats(out) == {"complete": 500, "failed": 0, "keepalive": 500, "non2xx": None}, out


@ab
def test_ab_through_nginx_keepalive(ngx):
    out = run(["ab", "-q", "-k", "-n", "1000", "-c", "20", ngx.url + "/ka/big/64"]).stdout.decode()
    assert ab_stats(out) == {"complete": 1000, "failed": 0, "keepalive": 1000, "non2xx": None}, out


wrk = pytest.mark.skipif(not shutil.which("wrk"), reason="wrk not installed")

# Per-thread counters: each wrk thread has its own Lua state.
WRK_POST_SCRIPT = r'''
wrk.method = "POST"
wrk.body   = string.rep("p", 5000)
wrk.headers["Content-Type"] = "application/octet-stream"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) bad = 0 end
function response(status, headers, body)
  if status ~= 200 or #body ~= 5000 then bad = bad + 1 end
end
function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("bad") end
  io.write(string.format("bad=%d \n", total))
end
'''

WRK_PIPELINE_SCRIPT = r'''
init = function(args)
  local r = {}
  r[1] = wrk.format("GET", "/big/100")
  r[2] = wrk.format("POST", "/echo", {["Content-Type"] = "text/plain"}, "pipelined-body")
  r[3] = wrk.format("GET", "/stream/1000")
  r[4] = wrk.format("GET", "/status/304")
  req = table.concat(r)
end
request = function() return req end
'''


def wrk_run(url, *extra, script=None, tmp_path=None, duration="2s", conns=100):
    args = ["wrk", "-t2", f"-c{conns}", f"-d{duration}", "--timeout", "5s"]
    if script:
        f = tmp_path / "script.lua"
        f.write_text(script)
        args += ["-s", str(f)]
    out = run(args + list(extra) + [url]).stdout.decode()
    assert "requests in" in out, out
    return out


@wrk
def test_wrk_100_connections(srv):
    out = wrk_run(srv.url + "/big/64")
    assert "Socket errors" not in out and "Non-2xx" not in out, out


@wrk
def test_wrk_post_script(srv, tmp_path):
    out = wrk_run(srv.url + "/echo", script=WRK_POST_SCRIPT, tmp_path=tmp_path, conns=50)
    assert "Socket errors" not in out and "Non-2xx" not in out, out
    assert "bad=0 " in out, out


@wrk
def test_wrk_pipelined(srv, tmp_path):
    out = wrk_run(srv.url, script=WRK_PIPELINE_SCRIPT, tmp_path=tmp_path, conns=20)
    assert "Socket errors" not in out and "Non-2xx" not in out, out


@wrk
def test_wrk_through_nginx_keepalive(ngx, tmp_path):
    mark = ngx.mark()
    out = wrk_run(ngx.url + "/ka/big/64")
    assert "Socket errors" not in out and "Non-2xx" not in out, out
    out = wrk_run(ngx.url + "/nb/echo", script=WRK_POST_SCRIPT, tmp_path=tmp_path, conns=50)
    assert "Socket errors" not in out and "Non-2xx" not in out and "bad=0 " in out, out
    assert ngx.bad_lines(mark) == []
