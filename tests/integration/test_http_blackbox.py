"""Independent black-box review of the HTTP/1.1 plugin (RFC 9110 / RFC 9112).

Self-contained: this module writes its own WSGI app into tmp_path, starts
trellis (TESTS_TRELLIS_BIN) on free loopback ports with subprocess, talks to
it with raw sockets and stops it at the end. It covers what the other
test_http_*.py files do not: half-closed clients with pipelining, bad
requests behind good ones, CGI variables for unusual targets, exact limits,
chunk-extension/leading-zero edge cases, Expect list syntax, connection
tear-down with unread client bytes, and response framing corner cases.

Tests for bugs this review found (since fixed) say so in their docstrings."""
import json
import os
import signal
import socket
import struct
import subprocess
import threading
import time

import pytest

TRELLIS = os.environ.get("TESTS_TRELLIS_BIN", "trellis")

APP = r'''
import json, time

def _gen(n):
    chunk = b"y" * 65536
    left = n
    while left > 0:
        k = min(left, len(chunk))
        left -= k
        yield chunk[:k]

def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.endswith("env"):
        out = {k: v for k, v in environ.items() if isinstance(v, str)}
        body = json.dumps(out).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
    if path == "/echo":
        body = environ["wsgi.input"].read()
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path.startswith("/readn/"):
        body = environ["wsgi.input"].read(int(path[7:]))
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]
    if path == "/ignore":
        start_response("200 OK", [("Content-Length", "7")])
        return [b"ignored"]
    if path.startswith("/big/"):
        n = int(path[5:])
        start_response("200 OK", [("Content-Length", str(n))])
        return _gen(n)
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return (b"part%d;" % i for i in range(3))
    if path.startswith("/status/"):
        start_response(path[8:].replace("_", " "), [("Content-Type", "text/plain")])
        return [b"body"]
    if path.startswith("/sleep/"):
        time.sleep(float(path[7:]))
        start_response("200 OK", [("Content-Length", "5")])
        return [b"slept"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"hello"]
'''

H = b"Host: x\r\n"


# ---------------------------------------------------------------- server

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Trellis:
    def __init__(self, tmp, *extra):
        app = tmp / "bb_app.py"
        app.write_text(APP)
        self.port = _free_port()
        self.logpath = tmp / f"trellis-{self.port}.log"
        self.log = open(self.logpath, "wb")
        cmd = [TRELLIS, "--plugin", "python", "--plugin", "http", "--http-socket", f"127.0.0.1:{self.port}",
               "--wsgi-file", str(app), *extra]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.logpath.read_text()
            if b"workers are ready" in self.logpath.read_bytes():
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("trellis did not start:\n" + self.logpath.read_text())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    started = {}

    def get(kind):
        if kind not in started:
            tmp = tmp_path_factory.mktemp(f"bb-{kind}")
            if kind == "procs":
                started[kind] = Trellis(tmp, "--processes", "2")
            else:  # threaded, small limits
                started[kind] = Trellis(tmp, "--processes", "1", "--threads", "4", "--limit-post", "1000",
                                        "--buffer-size", "4096")
        return started[kind]

    yield get
    for s in started.values():
        s.stop()


@pytest.fixture(scope="module", params=["procs", "threads"])
def anysrv(request, servers):
    return servers(request.param)


@pytest.fixture(scope="module")
def srv(servers):
    return servers("procs")


@pytest.fixture(scope="module")
def tsrv(servers):
    return servers("threads")


# ---------------------------------------------------------------- client

class Resp:
    def __init__(self, status_line, headers, body, framing):
        self.status_line = status_line
        self.status = int(status_line.split(b" ")[1])
        self.headers = headers
        self.body = body
        self.framing = framing

    def h(self, name):
        vals = [v for n, v in self.headers if n == name.lower()]
        return vals[-1] if vals else None

    def conn_tokens(self):
        return {t.strip().lower() for n, v in self.headers if n == "connection" for t in v.split(",")}

    def __repr__(self):
        return f"<Resp {self.status_line!r} {self.headers!r} body={self.body[:120]!r}>"


class Conn:
    def __init__(self, port, timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.s.close()

    def send(self, data, piece=None, pause=0.001):
        if piece is None:
            self.s.sendall(data)
            return
        for i in range(0, len(data), piece):
            self.s.sendall(data[i:i + piece])
            time.sleep(pause)

    def shut(self):
        self.s.shutdown(socket.SHUT_WR)

    def _fill(self, deadline):
        if self.eof:
            return False
        self.s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = self.s.recv(1 << 20)
        except ConnectionResetError:
            self.reset = True
            d = b""
        if not d:
            self.eof = True
            return False
        self.buf += d
        return True

    def _need(self, pred, deadline):
        while not pred():
            if not self._fill(deadline):
                raise EOFError(f"closed; have {self.buf[:300]!r} reset={self.reset}")

    def read(self, head=False, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        self._need(lambda: b"\r\n\r\n" in self.buf, deadline)
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.split(b"\r\n")
        headers = []
        for ln in lines[1:]:
            n, _, v = ln.partition(b":")
            headers.append((n.decode("latin-1").lower(), v.strip().decode("latin-1")))
        r = Resp(lines[0], headers, b"", None)
        if head or r.status < 200 or r.status in (204, 304):
            r.framing = "none"
            return r
        te, cl = r.h("transfer-encoding"), r.h("content-length")
        if te is not None:
            assert te.lower() == "chunked" and cl is None, r
            r.framing = "chunked"
            body = b""
            while True:
                self._need(lambda: b"\r\n" in self.buf, deadline)
                line, self.buf = self.buf.split(b"\r\n", 1)
                size = int(line.split(b";")[0], 16)
                if size == 0:
                    self._need(lambda: b"\r\n" in self.buf, deadline)
                    assert self.buf.startswith(b"\r\n"), self.buf[:50]
                    self.buf = self.buf[2:]
                    break
                self._need(lambda: len(self.buf) >= size + 2, deadline)
                body += self.buf[:size]
                assert self.buf[size:size + 2] == b"\r\n"
                self.buf = self.buf[size + 2:]
            r.body = body
        elif cl is not None:
            n = int(cl)
            r.framing = "length"
            self._need(lambda: len(self.buf) >= n, deadline)
            r.body, self.buf = self.buf[:n], self.buf[n:]
        else:
            r.framing = "close"
            while self._fill(deadline):
                pass
            r.body, self.buf = self.buf, b""
        return r

    def rest_until_close(self, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        d, self.buf = self.buf, b""
        return d

    def quiet_and_open(self, seconds):
        try:
            return not self._fill(time.monotonic() + seconds) and not self.eof
        except socket.timeout:
            return True


def one(port, data, **kw):
    with Conn(port) as c:
        c.send(data, **{k: v for k, v in kw.items() if k in ("piece",)})
        return c.read(head=kw.get("head", False))


def env_of(port, target=b"/env", extra=b"", version=b"HTTP/1.1", host=H, body=b""):
    r = one(port, b"GET " + target + b" " + version + b"\r\n" + host + extra + b"Connection: close\r\n\r\n" + body)
    assert r.status == 200, r
    return json.loads(r.body)


# ================================================================ tests
# --- connection management: half-close, pipelining, errors behind good requests


@pytest.mark.parametrize("piece", [None, 7])
def test_half_close_after_pipelined_requests_answers_all(anysrv, piece):
    """RFC 9112 §9.6 / §9.3.2: a client may half-close (SHUT_WR) after its last
    pipelined request; every request already received must still be answered."""
    with Conn(anysrv.port) as c:
        c.send(b"GET /sleep/0.2 HTTP/1.1\r\n" + H + b"\r\n" + b"POST /echo HTTP/1.1\r\n" + H
               + b"Content-Length: 3\r\n\r\nabc" + b"GET /sleep/0.1 HTTP/1.1\r\n" + H + b"\r\n", piece=piece)
        c.shut()
        assert c.read().body == b"slept"
        assert c.read().body == b"abc"
        assert c.read().body == b"slept"
        assert c.rest_until_close() == b""


def test_half_close_after_chunked_and_expect_bodies(srv):
    """RFC 9112 §9.6: half-close after a complete chunked request or an
    Expect: 100-continue request whose body was already sent still gets the
    response (no 100 is due: RFC 9110 §10.1.1)."""
    with Conn(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        c.shut()
        assert c.read().body == b"hello"
    with Conn(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello")
        c.shut()
        r = c.read()
        assert r.status == 200 and r.body == b"hello"


BAD_BEHIND_GOOD = {
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "space-in-target": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "cl-te": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "bad-chunk": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
}


@pytest.mark.parametrize("piece", [None, 5])
@pytest.mark.parametrize("bad", BAD_BEHIND_GOOD.values(), ids=BAD_BEHIND_GOOD.keys())
def test_bad_request_after_good_one_in_pipeline(anysrv, bad, piece):
    """RFC 9112 §9.3.2 + §2.2: pipelined requests are answered in order; a
    malformed one after a good one gets 400 with Connection: close, and the
    good one's response is complete and first."""
    with Conn(anysrv.port) as c:
        c.send(b"GET /sleep/0.1 HTTP/1.1\r\n" + H + b"\r\n" + bad + b"GET / HTTP/1.1\r\n" + H + b"\r\n",
               piece=piece)
        r1 = c.read()
        assert r1.status == 200 and r1.body == b"slept"
        r2 = c.read()
        assert r2.status == 400 and "close" in r2.conn_tokens() and r2.h("content-length") == str(len(r2.body))
        assert c.rest_until_close() == b""


def test_server_survives_clients_resetting_mid_response(anysrv):
    """RFC 9112 §9.6: a client may abort; the worker must keep serving."""
    for _ in range(4):
        s = socket.create_connection(("127.0.0.1", anysrv.port))
        s.sendall(b"GET /big/20000000 HTTP/1.1\r\n" + H + b"\r\n")
        s.recv(100)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    assert one(anysrv.port, b"GET / HTTP/1.1\r\n" + H + b"\r\n").body == b"hello"


CONN_TOKENS = {
    "keep-alive-then-CLOSE-with-ows": (b"Connection: keep-alive,  CLOSE \r\n", True),
    "close-in-second-field-line": (b"Connection: foo\r\nConnection: close\r\n", True),
    "empty-elements": (b"Connection: ,, close ,\r\n", True),
    "closed-is-not-close": (b"Connection: closed\r\n", False),
    "te-upgrade-options": (b"Connection: TE, Upgrade\r\n", False),
}


@pytest.mark.parametrize("field,closes", CONN_TOKENS.values(), ids=CONN_TOKENS.keys())
def test_connection_option_tokens(srv, field, closes):
    """RFC 9110 §7.6.1: Connection is a case-insensitive token list; "close"
    anywhere means close after this response; other tokens do not."""
    with Conn(srv.port) as c:
        c.send(b"GET / HTTP/1.1\r\n" + H + field + b"\r\n")
        r = c.read()
        assert r.body == b"hello"
        if closes:
            assert "close" in r.conn_tokens()
            assert c.rest_until_close() == b""
        else:
            assert "close" not in r.conn_tokens()
            assert c.quiet_and_open(0.3)


def test_http10_keep_alive_streamed_response_is_close_delimited(srv):
    """RFC 9112 §6.3 (item 8) / §9.3: HTTP/1.0 cannot receive chunked, so an
    unknown-length response ends the connection and says so."""
    with Conn(srv.port) as c:
        c.send(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read()
        assert r.framing == "close" and r.body == b"part0;part1;part2;" and "close" in r.conn_tokens()


def test_http10_keep_alive_204_stays_open(srv):
    """RFC 9112 §9.3 / RFC 9110 §15.3.5: a 204 to an HTTP/1.0 keep-alive
    request needs no length, says keep-alive and the connection stays usable."""
    with Conn(srv.port) as c:
        c.send(b"GET /status/204_No_Content HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r = c.read()
        assert r.status == 204 and "keep-alive" in r.conn_tokens()
        c.send(b"GET / HTTP/1.0\r\n\r\n")
        assert c.read().body == b"hello"


def test_304_keeps_pipeline_in_sync(srv):
    """RFC 9110 §15.4.5 / RFC 9112 §6.3: a 304 has no content even if the app
    produced some; the next pipelined response follows at once."""
    with Conn(srv.port) as c:
        c.send(b"GET /status/304_Not_Modified HTTP/1.1\r\n" + H + b"\r\n" + b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert c.read().status == 304
        assert c.read().body == b"hello"


# --- tear-down with unread client bytes: RST destroys the response


def _tcp_queues(local_port, remote_port):
    """(state, send queue, receive queue) of the IPv4 TCP socket from
    local_port to remote_port, as /proc/net/tcp shows it; None if none."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            parts = line.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == local_port and \
                    int(parts[2].rsplit(":", 1)[1], 16) == remote_port:
                tx, rx = (int(x, 16) for x in parts[4].split(":"))
                return int(parts[3], 16), tx, rx
    return None


def _wait_server_backlogged(sock, server_port, timeout=10.0):
    """Waits until the server has response bytes queued that the client,
    holding unread bytes itself, does not take: the server is blocked on a
    full send buffer (or it has already closed its end)."""
    me = sock.getsockname()[1]

    def backlogged():
        server, client = _tcp_queues(server_port, me), _tcp_queues(me, server_port)
        if server is None or server[0] != 1:  # 1: ESTABLISHED
            return True
        return server[1] > 0 and client is not None and client[2] > 0

    deadline = time.monotonic() + timeout
    while not backlogged():
        assert time.monotonic() < deadline, (_tcp_queues(server_port, me), _tcp_queues(me, server_port))
        time.sleep(0.01)


def _big_close(port, request, extra, n=8_000_000):
    with Conn(port, timeout=10) as c:
        c.send(request)
        # The response has begun (peeked, not read): the request was read.
        assert c.s.recv(1, socket.MSG_PEEK) == b"H"
        c.send(extra)  # bytes the server will never read
        _wait_server_backlogged(c.s, port)
        r = c.read(timeout=10)
        assert r.status == 200
        return len(r.body), c.reset


def test_connection_close_with_pipelined_bytes_delivers_whole_response(srv):
    """RFC 9112 §9.6: after "Connection: close" the server must half-close and
    keep reading (lingering close), or the client's next pipelined request in
    its receive queue turns the close into a TCP reset that destroys the
    unsent tail of the response."""
    got, reset = _big_close(srv.port, b"GET /big/8000000 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n",
                            b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    assert (got, reset) == (8_000_000, False)


def test_http10_extra_crlf_after_request_delivers_whole_response(tsrv):
    """RFC 9112 §2.2 (clients may send an extra CRLF after a request) + §9.6:
    the non-persistent response must arrive whole."""
    got, reset = _big_close(tsrv.port, b"GET /big/8000000 HTTP/1.0\r\n\r\n", b"\r\n")
    assert (got, reset) == (8_000_000, False)


def test_connection_close_without_extra_bytes_delivers_whole_response(srv):
    """Control for the two tests above: without unread client bytes the same
    response arrives whole (RFC 9112 §9.6)."""
    with Conn(srv.port, timeout=10) as c:
        c.send(b"GET /big/8000000 HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        _wait_server_backlogged(c.s, srv.port)
        r = c.read(timeout=10)
        assert len(r.body) == 8_000_000 and not c.reset


def test_expect_ignored_body_sent_anyway_response_intact(srv):
    """RFC 9110 §10.1.1: a server that does not read the body after Expect:
    100-continue sends its final response and closes; the client's small
    response must be complete and say Connection: close."""
    with Conn(srv.port) as c:
        c.send(b"POST /ignore HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 100\r\n\r\n")
        r = c.read()
        assert r.status == 200 and r.body == b"ignored" and "close" in r.conn_tokens()


# --- methods and targets


def test_lowercase_head_is_an_extension_method_with_body(srv):
    """RFC 9110 §9.1: method names are case-sensitive; "head" is not HEAD, so
    its response carries content."""
    r = one(srv.port, b"head / HTTP/1.1\r\n" + H + b"\r\n")
    assert r.status == 200 and r.body == b"hello"
    env = env_of(srv.port, target=b"/env")
    assert env["REQUEST_METHOD"] == "GET"


def test_lowercase_connect_with_authority_form_is_400(srv):
    """RFC 9112 §3.2.3: authority-form is only for CONNECT (case-sensitive), so
    "connect host:443" has an invalid target: 400, connection closed."""
    with Conn(srv.port) as c:
        c.send(b"connect example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        r = c.read()
        assert r.status == 400 and "close" in r.conn_tokens()
        assert c.rest_until_close() == b""


TARGETS = {
    # target: (PATH_INFO as latin-1 str, QUERY_STRING)
    "encoded-slash-question-percent": (b"/a%2Fb%3Fc/%25/env?x=%2F&y", "/a/b?c/%/env", "x=%2F&y"),
    "semicolon-params-and-?-in-query": (b"/p;q=1/env?a=b?c", "/p;q=1/env", "a=b?c"),
    "empty-query": (b"/env?", "/env", ""),
    "raw-utf8": (b"/\xc3\xa9/env", "/\xc3\xa9/env", ""),
    "dot-segments-kept": (b"/a/../b/./env", "/a/../b/./env", ""),
    "double-slash": (b"//env", "//env", ""),
    "escaped-dots-and-letters": (b"/%41%2e%2e/env?%41", "/A../env", "%41"),
}


@pytest.mark.parametrize("target,path,query", TARGETS.values(), ids=TARGETS.keys())
def test_cgi_path_query_request_uri(srv, target, path, query):
    """RFC 3875 §4.1.5/§4.1.7 + PEP 3333: PATH_INFO is the percent-decoded
    path (as latin-1), QUERY_STRING the raw text after the first '?',
    REQUEST_URI the raw target (RFC 9112 §3.2)."""
    env = env_of(srv.port, target=target)
    assert env["PATH_INFO"] == path
    assert env["QUERY_STRING"] == query
    assert env["REQUEST_URI"] == target.decode("latin-1")


def test_exact_buffer_size_head_boundary(tsrv):
    """RFC 6585 §5: a head of exactly --buffer-size (4096) bytes is served; one
    byte more is 431 with Connection: close."""
    def head_of(total):
        base = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
        data = base + b"p" * (total - len(base) - 4) + b"\r\n\r\n"
        assert len(data) == total
        return data
    assert one(tsrv.port, head_of(4096)).body == b"hello"
    assert one(tsrv.port, head_of(4096), piece=512).body == b"hello"
    r = one(tsrv.port, head_of(4097))
    assert r.status == 431 and "close" in r.conn_tokens()


def test_request_line_over_buffer_size_is_414_also_for_long_query(tsrv):
    """RFC 9110 §15.5.15: a target longer than the server will parse is 414,
    whether the length is in the path or the query."""
    r = one(tsrv.port, b"GET /?" + b"q" * 5000 + b" HTTP/1.1\r\n" + H + b"\r\n")
    assert r.status == 414 and "close" in r.conn_tokens() and r.h("content-length") == str(len(r.body))


# --- fields and CGI variables


def test_empty_and_whitespace_only_field_values(srv):
    """RFC 9110 §5.5: a field value may be empty; OWS around it is not part of
    it. The app sees empty strings."""
    env = env_of(srv.port, extra=b"X-Empty:\r\nX-Sp:   \t \r\n")
    assert env["HTTP_X_EMPTY"] == "" and env["HTTP_X_SP"] == ""


def test_repeated_field_names_differing_in_case_are_joined(srv):
    """RFC 9110 §5.3 / §5.1: field names are case-insensitive; repeated lines
    combine in order with ", "."""
    env = env_of(srv.port, extra=b"X-A: 1\r\nx-a: 2\r\nX-A:3\r\nAccept: a\r\nACCEPT: b\r\n")
    assert env["HTTP_X_A"] == "1, 2, 3" and env["HTTP_ACCEPT"] == "a, b"


def test_ipv6_host_with_port(srv):
    """RFC 9110 §7.2 / RFC 3986 §3.2.2: Host "[::1]:8080" -> SERVER_NAME
    "[::1]", SERVER_PORT "8080"."""
    env = env_of(srv.port, host=b"Host: [::1]:8080\r\n")
    assert env["SERVER_NAME"] == "[::1]" and env["SERVER_PORT"] == "8080" and env["HTTP_HOST"] == "[::1]:8080"


def test_absolute_form_ipv6_authority_replaces_host(srv):
    """RFC 9112 §3.2.2: the absolute-form authority replaces Host."""
    env = env_of(srv.port, target=b"http://[::1]:80/env")
    assert env["SERVER_NAME"] == "[::1]" and env["SERVER_PORT"] == "80" and env["HTTP_HOST"] == "[::1]:80"
    assert env["PATH_INFO"] == "/env" and env["REQUEST_URI"] == "http://[::1]:80/env"


def test_absolute_form_still_requires_host_field(srv):
    """RFC 9112 §3.2 / §3.2.2: an HTTP/1.1 request without Host is 400 even
    with an absolute-form target."""
    r = one(srv.port, b"GET http://example.com/ HTTP/1.1\r\n\r\n")
    assert r.status == 400 and "close" in r.conn_tokens()


def test_empty_host_falls_back_to_local_address(srv):
    """RFC 9110 §7.2: Host may be empty; SERVER_NAME then comes from the socket
    (RFC 3875 §4.1.14)."""
    env = env_of(srv.port, host=b"Host:\r\n")
    assert env["SERVER_NAME"] == "127.0.0.1" and env["SERVER_PORT"] == str(srv.port)
    assert env["HTTP_HOST"] == ""


def test_http10_without_host(srv):
    """RFC 9112 §3.2 (Host only required in 1.1) / RFC 3875 §4.1.16:
    SERVER_PROTOCOL is the request's version."""
    env = env_of(srv.port, version=b"HTTP/1.0", host=b"")
    assert env["SERVER_PROTOCOL"] == "HTTP/1.0" and env["SERVER_NAME"] == "127.0.0.1"
    assert "HTTP_HOST" not in env


def test_content_vars_not_duplicated_as_http_vars(srv):
    """RFC 3875 §4.1.18: Content-Type/Content-Length become CONTENT_TYPE /
    CONTENT_LENGTH only; a chunked body has no CONTENT_LENGTH."""
    r = one(srv.port, b"POST /env HTTP/1.1\r\n" + H + b"Content-Type: text/x\r\nContent-Length: 3\r\n\r\nabc")
    env = json.loads(r.body)
    assert env["CONTENT_TYPE"] == "text/x" and env["CONTENT_LENGTH"] == "3"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    r = one(srv.port, b"POST /env HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    env = json.loads(r.body)
    assert "CONTENT_LENGTH" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["HTTP_TRANSFER_ENCODING"] == "chunked"


# --- bodies


def _chunked_echo(port, framing, piece=None):
    return one(port, b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + framing, piece=piece)


@pytest.mark.parametrize("piece", [None, 1])
def test_chunk_extensions_with_bws_and_quoted_strings(srv, piece):
    """RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] ),
    value a token or quoted-string with quoted-pairs (";" and '\\"' inside)."""
    r = _chunked_echo(srv.port, b'3 ; a = b ; c = "d;\\"e" ;f\r\nabc\r\n2;x="";y=z\r\nde\r\n0;last\r\nT: 1\r\n\r\n',
                      piece=piece)
    assert r.status == 200 and r.body == b"abcde"


def test_chunk_size_with_15_leading_zero_digits(srv):
    """RFC 9112 §7.1: chunk-size = 1*HEXDIG; leading zeros are allowed."""
    r = _chunked_echo(srv.port, b"000000000000003\r\nabc\r\n0\r\n\r\n")
    assert r.status == 200 and r.body == b"abc"


@pytest.mark.parametrize("framing", [b"0000000000000003\r\nabc\r\n0\r\n\r\n",
                                     b"3\r\nabc\r\n00000000000000000\r\n\r\n"], ids=["data-chunk", "last-chunk"])
def test_chunk_size_with_many_leading_zeros(srv, framing):
    """RFC 9112 §7.1: chunk-size = 1*HEXDIG with no length limit; a value of 3
    written with 16+ digits (leading zeros) is still 3 (nginx, Node accept it:
    they bound the value, not the digit count)."""
    r = _chunked_echo(srv.port, framing)
    assert r.status == 200 and r.body == b"abc"


def test_limit_post_chunked(tsrv):
    """RFC 9110 §15.5.14: a chunked body crossing --limit-post (1000) over
    several chunks is 413 + close; exactly the limit is accepted."""
    r = _chunked_echo(tsrv.port, (b"100\r\n" + b"a" * 256 + b"\r\n") * 4 + b"0\r\n\r\n")
    assert r.status == 413 and "close" in r.conn_tokens()
    r = _chunked_echo(tsrv.port, b"3e8\r\n" + b"a" * 1000 + b"\r\n0\r\n\r\n")
    assert r.status == 200 and len(r.body) == 1000


def _send_and_collect(port, data, piece, expect):
    """Sends data from a thread (so the server's responses cannot block it)
    and reads `expect` responses."""
    with Conn(port, timeout=20) as c:
        def sender():
            c.send(data, piece=piece, pause=0)
        t = threading.Thread(target=sender)
        t.start()
        out = [c.read(timeout=20) for _ in range(expect)]
        t.join()
        return out


@pytest.mark.parametrize("piece", [None, 1000, 7777])
def test_spooled_chunked_body_then_pipelined_request(srv, piece):
    """RFC 9112 §7.1 + §9.3.2: a 2.5 MB chunked body (beyond post-buffering,
    spooled) with trailers, then a pipelined request in the same stream: body
    intact, next request answered."""
    body = os.urandom(2_500_000)
    framing = b"".join(b"%x\r\n" % len(body[i:i + 65536]) + body[i:i + 65536] + b"\r\n"
                       for i in range(0, len(body), 65536)) + b"0\r\nX-T: y\r\n\r\n"
    data = (b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n" + framing
            + b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    r1, r2 = _send_and_collect(srv.port, data, piece, 2)
    assert r1.body == body and r2.body == b"hello"


def test_expect_continue_chunked_streamed_then_pipelined(srv):
    """RFC 9110 §10.1.1 + RFC 9112 §9.3.2: an Expect: 100-continue chunked body
    read by the app in streaming mode, then a pipelined request."""
    body = os.urandom(500_000)
    framing = b"".join(b"%x\r\n" % len(body[i:i + 3000]) + body[i:i + 3000] + b"\r\n"
                       for i in range(0, len(body), 3000)) + b"0\r\n\r\n"
    data = (b"POST /echo HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"
            + framing + b"GET / HTTP/1.1\r\n" + H + b"\r\n")
    r1, r2 = _send_and_collect(srv.port, data, 5000, 2)
    assert r1.body == body and r2.body == b"hello"


def test_expect_continue_partial_read_closes_and_rest_is_not_a_request(srv):
    """RFC 9110 §10.1.1 / RFC 9112 §9.3: after a 100 the app reads 5 of 10
    body bytes; the server must never parse the rest of the body as a
    request. A server that stops reading the content must close
    (Connection: close); one that read the entire content itself (trellis
    receives every body for the application, SDK 2) may keep the connection
    and must then answer the pipelined request behind it, and nothing else."""
    with Conn(srv.port) as c:
        c.send(b"POST /readn/5 HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nContent-Length: 10\r\n\r\n")
        r = c.read()
        assert r.status == 100
        c.send(b"0123456789GET / HTTP/1.1\r\n" + H + b"Connection: close\r\n\r\n")
        r = c.read()
        assert r.status == 200 and r.body == b"01234"
        if "close" not in r.conn_tokens():
            nxt = c.read()
            assert nxt.status == 200 and nxt.body != r.body, nxt
        assert c.rest_until_close() == b""


@pytest.mark.parametrize("value", [b"100-continue,", b", 100-continue"], ids=["trailing-comma", "leading-comma"])
def test_expect_list_with_empty_element_is_100_continue(srv, value):
    """RFC 9110 §5.6.1.2: a recipient MUST parse and ignore a reasonable number
    of empty list elements; Expect is a list (#expectation, RFC 9110 §10.1.1),
    so "100-continue," is just 100-continue (nginx: no 417)."""
    with Conn(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + H + b"Expect: " + value + b"\r\nContent-Length: 2\r\n\r\n")
        r = c.read()
        assert r.status == 100
        c.send(b"ab")
        assert c.read().body == b"ab"


# --- responses built from the application


def test_status_with_empty_reason_phrase(srv):
    """RFC 9112 §4: status-line = HTTP-version SP status-code SP [reason-phrase];
    an empty reason still has the second SP."""
    with Conn(srv.port) as c:
        c.send(b"GET /status/200_ HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read()
        assert r.status_line == b"HTTP/1.1 200 " and r.body == b"body"


@pytest.mark.parametrize("status", [b"101_Switching_Protocols", b"103_Early_Hints", b"600_Weird", b"200"])
def test_invalid_final_status_from_app_is_500(srv, status):
    """RFC 9110 §15 / §15.2: a 1xx cannot be the final response, codes are
    100-599, and a status needs SP + reason (PEP 3333): the server answers a
    well-framed 500 and the connection stays usable."""
    with Conn(srv.port) as c:
        c.send(b"GET /status/" + status + b" HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read()
        assert r.status == 500 and r.h("content-length") == str(len(r.body))
        c.send(b"GET / HTTP/1.1\r\n" + H + b"\r\n")
        assert c.read().body == b"hello"


def test_bad_chunk_after_100_continue_is_400(anysrv):
    """RFC 9112 §7.1 + RFC 9110 §15.5.1: invalid chunk framing that arrives
    only after the 100 (the app is already reading) is still a well-framed
    400 with Connection: close, and the connection ends."""
    with Conn(anysrv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + H + b"Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n")
        assert c.read().status == 100
        c.send(b"3\r\nabc\r\nzz\r\n")
        r = c.read()
        assert r.status == 400 and "close" in r.conn_tokens()
        assert c.rest_until_close() == b""
