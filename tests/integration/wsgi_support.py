"""Shared helpers for the WSGI / Flask / Django integration tests.

Raw HTTP/1.1 over a socket, for the cases where the framing itself is what
is under test (chunked bodies, HEAD, aborted streams, keep-alive).
"""
import json
import socket
import time

from conftest import APPS

PY_HTTP = ("--plugin", "python", "--plugin", "http")
WSGI_APP = APPS / "wsgi_app.py"


def app_args(*extra, app=WSGI_APP):
    return (*PY_HTTP, "--wsgi-file", str(app), *extra)


class RawResponse:
    def __init__(self, status_line, headers, body, complete, raw):
        self.status_line = status_line
        self.status = int(status_line.split(b" ")[1])
        self.headers = headers  # list of (lower-case name, value) as str
        self.body = body
        self.complete = complete  # framing said the body ended (0-chunk / length reached)
        self.raw = raw

    def header(self, name):
        vals = [v for n, v in self.headers if n == name.lower()]
        return vals[-1] if vals else None

    def json(self):
        return json.loads(self.body)


class RawConnection:
    """One client connection; reads responses one by one, framing-aware."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.eof = False
        self.reset = False

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            self.reset = True
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _read_until(self, marker):
        while marker not in self.buf:
            if not self._fill():
                raise EOFError(f"connection ended before {marker!r}; buffered {self.buf[:200]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def _read_exact(self, n):
        while len(self.buf) < n:
            if not self._fill():
                out, self.buf = self.buf, b""
                return out
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False):
        raw_head = self._read_until(b"\r\n\r\n")
        lines = raw_head[:-4].split(b"\r\n")
        status_line = lines[0]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower().decode("latin-1"), value.strip().decode("latin-1")))
        status = int(status_line.split(b" ")[1])
        hd = dict(headers)
        raw = raw_head
        if head_request or status in (204, 304) or 100 <= status < 200:
            return RawResponse(status_line, headers, b"", True, raw)
        if hd.get("transfer-encoding", "").lower() == "chunked":
            body = b""
            while True:
                try:
                    size_line = self._read_until(b"\r\n")
                except EOFError:
                    return RawResponse(status_line, headers, body, False, raw + body)
                raw += size_line
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    try:
                        raw += self._read_until(b"\r\n")  # no trailers from trellis
                    except EOFError:
                        return RawResponse(status_line, headers, body, False, raw)
                    return RawResponse(status_line, headers, body, True, raw)
                data = self._read_exact(size + 2)
                raw += data
                body += data[:size]
                if len(data) < size + 2:
                    return RawResponse(status_line, headers, body, False, raw)
        if "content-length" in hd:
            n = int(hd["content-length"])
            body = self._read_exact(n)
            return RawResponse(status_line, headers, body, len(body) == n, raw + body)
        # close-delimited
        while self._fill():
            pass
        body, self.buf = self.buf, b""
        return RawResponse(status_line, headers, body, not self.reset, raw + body)

    def at_eof(self, wait=2.0):
        """True when the server closed the connection (nothing more comes)."""
        self.sock.settimeout(wait)
        try:
            return not self._fill() and not self.buf
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def raw_request(port, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1", timeout=10):
    """One request on a fresh connection with Connection: close."""
    hs = {"Host": f"127.0.0.1:{port}", "Connection": "close"}
    hs.update(headers or {})
    if body and "Content-Length" not in hs and "Transfer-Encoding" not in hs:
        hs["Content-Length"] = str(len(body))
    head = f"{method} {path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hs.items()) + "\r\n"
    with RawConnection(port, timeout) as c:
        c.send(head.encode("latin-1") + body)
        return c.read_response(head_request=(method == "HEAD"))


def read_state(tmp_path, name, expect_lines=None, timeout=5.0):
    """Lines the app appended to APP_STATE_DIR/name; waits for expect_lines."""
    path = tmp_path / name
    deadline = time.monotonic() + timeout
    while True:
        lines = path.read_text().splitlines() if path.exists() else []
        if expect_lines is None or len(lines) >= expect_lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def start_module_server(tmp_path_factory, *args, env=None):
    """A Server shared by a whole test module (the `server` fixture is per
    test); the caller stops it. APP_STATE_DIR is a fresh directory."""
    from conftest import Server
    state = tmp_path_factory.mktemp("state")
    e = {"APP_STATE_DIR": str(state)}
    e.update(env or {})
    s = Server(args, state, env=e)
    s.state_dir = state
    return s
