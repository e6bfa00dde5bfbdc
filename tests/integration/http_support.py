"""Raw-socket helpers for the HTTP/1.1 plugin's black-box tests.

Requests are written as bytes; responses are read and parsed incrementally
(status line, fields, then the body in whatever framing the server chose),
so a test can see exactly what went over the wire: interim 1xx responses,
chunk framing, a missing terminating chunk, bytes after a response that
should not be there, and whether the server closed the connection.
"""
import socket
import time

import pytest

from conftest import APPS, TEST_PLUGIN_DIR, Server

# The C++ test runtime: "/", "/echo", "/bytes/N", "/sleep/MS", "/pid".
TESTAPP = ("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http")
HTTP_APP = APPS / "http_app.py"
PYAPP = ("--plugin", "python", "--plugin", "http", "--wsgi-file", str(HTTP_APP))


class Closed(Exception):
    """The server closed (or reset) the connection before a full response."""


class Response:
    def __init__(self, version, status, reason, headers, raw_head):
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers  # [(lower-case name, value)] as str, wire order
        self.raw_head = raw_head
        self.body = b""
        self.raw_body = b""  # body bytes as framed on the wire
        self.framing = None  # "none", "length", "chunked", "close"
        self.complete = False  # the framing said the body ended

    def header(self, name):
        vals = self.all(name)
        return vals[-1] if vals else None

    def all(self, name):
        return [v for n, v in self.headers if n == name.lower()]

    def connection_tokens(self):
        return {t.strip().lower() for v in self.all("connection") for t in v.split(",")}

    def __repr__(self):
        return f"<Response {self.status} {self.framing} complete={self.complete} head={self.raw_head!r} body={self.body[:200]!r}>"


class Client:
    """One TCP connection to the server, read with timeouts."""

    def __init__(self, port, timeout=5.0, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.reset = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def send_slowly(self, data, piece=1, pause=0.002):
        for i in range(0, len(data), piece):
            self.sock.sendall(data[i:i + piece])
            time.sleep(pause)

    def _fill(self, deadline):
        """Reads more bytes into buf; False at EOF/reset. Raises socket.timeout."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out waiting for the server")
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _take_line(self, deadline):
        while b"\r\n" not in self.buf:
            if not self._fill(deadline):
                raise Closed(f"connection closed mid-line; have {self.buf!r}")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n, deadline):
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise Closed(f"connection closed with {len(self.buf)} of {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_head(self, timeout=None):
        """Reads one response head (status line + fields), any status."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n\r\n" not in self.buf:
            if not self._fill(deadline):
                if not self.buf:
                    raise Closed("connection closed before a response" + (" (reset)" if self.reset else ""))
                raise Closed(f"connection closed mid-head: {self.buf!r}")
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        assert len(parts) >= 2 and parts[0].startswith(b"HTTP/"), f"bad status line {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            assert sep and name and name == name.strip(), f"bad response field line {line!r}"
            headers.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
        return Response(parts[0].decode(), int(parts[1]), parts[2].decode("latin-1") if len(parts) > 2 else "",
                        headers, head + b"\r\n\r\n")

    def read_response(self, head_request=False, timeout=None, allow_interim=False):
        """Reads one final response with its body. With allow_interim, 1xx
        responses before it are collected in .interim; otherwise a 1xx is
        returned as it is (so a test can assert on it)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        interim = []
        while True:
            r = self.read_head(timeout=max(0.01, deadline - time.monotonic()))
            if 100 <= r.status < 200 and allow_interim:
                interim.append(r)
                continue
            break
        r.interim = interim
        self.read_body(r, head_request=head_request, deadline=deadline)
        return r

    def read_body(self, r, head_request=False, deadline=None):
        """Reads the body of response `r` (from read_head) per its framing."""
        if deadline is None:
            deadline = time.monotonic() + self.timeout
        if head_request or r.status < 200 or r.status in (204, 304):
            r.framing = "none"
            r.complete = True
            return r
        te = r.header("transfer-encoding")
        cl = r.all("content-length")
        if te is not None:
            assert not cl, f"response has both Transfer-Encoding and Content-Length: {r.raw_head!r}"
            assert te.lower() == "chunked", f"unexpected response coding {te!r}"
            r.framing = "chunked"
            self._read_chunked(r, deadline)
        elif cl:
            assert len(set(cl)) == 1 and cl[0].isdigit(), f"bad response Content-Length {cl!r}"
            r.framing = "length"
            n = int(cl[0])
            try:
                r.body = r.raw_body = self._take(n, deadline)
                r.complete = True
            except Closed:
                r.body = r.raw_body = self.buf
                self.buf = b""
        else:
            r.framing = "close"
            r.body = r.raw_body = self.read_until_close(timeout=max(0.01, deadline - time.monotonic()))
            r.complete = not self.reset
        return r

    def _read_chunked(self, r, deadline):
        raw = b""
        body = b""
        try:
            while True:
                line = self._take_line(deadline)
                raw += line + b"\r\n"
                size_text = line.split(b";", 1)[0]
                assert size_text and all(c in b"0123456789abcdefABCDEF" for c in size_text), \
                    f"bad chunk-size line {line!r}"
                size = int(size_text, 16)
                if size == 0:
                    while True:  # trailer section
                        t = self._take_line(deadline)
                        raw += t + b"\r\n"
                        if t == b"":
                            break
                    r.complete = True
                    break
                data = self._take(size, deadline)
                crlf = self._take(2, deadline)
                assert crlf == b"\r\n", f"chunk data not followed by CRLF: {crlf!r}"
                raw += data + crlf
                body += data
        except Closed:
            raw += self.buf
            self.buf = b""
        r.body = body
        r.raw_body = raw

    def read_until_close(self, timeout=None):
        """Everything until the server closes; raises socket.timeout if it doesn't."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while self._fill(deadline):
            pass
        data, self.buf = self.buf, b""
        return data

    def closed_within(self, seconds):
        """True if the server closes the connection within `seconds` (any
        bytes that arrive before are kept in .buf)."""
        try:
            self.read_until_close_keep(seconds)
            return True
        except socket.timeout:
            return False

    def read_until_close_keep(self, seconds):
        deadline = time.monotonic() + seconds
        while self._fill(deadline):
            pass

    def quiet_for(self, seconds):
        """True if nothing arrives and the connection stays open for `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            got = self._fill(deadline)
        except socket.timeout:
            return True
        return False if got or self.eof else True


def request(method="GET", target="/", headers=(), body=b"", version="HTTP/1.1", host="localhost"):
    """Bytes of one request; `headers` is a list of (name, value) or raw lines."""
    lines = [f"{method} {target} {version}".encode()]
    if host is not None:
        lines.append(b"Host: " + host.encode())
    for h in headers:
        if isinstance(h, (bytes, str)):
            lines.append(h.encode() if isinstance(h, str) else h)
        else:
            lines.append(f"{h[0]}: {h[1]}".encode())
    if body and not any(isinstance(h, tuple) and h[0].lower() in ("content-length", "transfer-encoding")
                        for h in headers):
        lines.append(f"Content-Length: {len(body)}".encode())
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def chunked(*pieces, ext=b"", trailers=b""):
    out = b""
    for p in pieces:
        out += b"%x" % len(p) + ext + b"\r\n" + p + b"\r\n"
    return out + b"0\r\n" + trailers + b"\r\n"


def exchange(port, data, head_request=False, timeout=5.0):
    """Sends `data` on a fresh connection and reads one response."""
    with Client(port, timeout=timeout) as c:
        c.send(data)
        return c.read_response(head_request=head_request)


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """module_server(args...) starts one trellis shared by a module's tests."""
    started = []

    def start(*args, **kw):
        s = Server(args, tmp_path_factory.mktemp("trellis"), **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()
