"""Black-box acceptance review of the Python WSGI host (PEP 3333) and the
uwsgi protocol plugin behind a real nginx.

Self-contained: every test starts the real trellis binary (TESTS_TRELLIS_BIN)
and, for the nginx tests, Debian's /usr/sbin/nginx on free loopback ports,
with the application and configuration written into pytest's tmp dirs.
Most validated routes (/v/...) run the application inside
wsgiref.validate.validator(), which raises AssertionError inside the app
whenever the *server* breaks a PEP 3333 rule; the app then answers 599 with
the traceback, or records it in validator.log, which the tests inspect.

Tests for bugs this review found (since fixed) say so in their docstrings.
"""
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import grp
import pwd
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BIN = Path(os.environ.get("TESTS_TRELLIS_BIN",
                          Path(os.environ.get("TESTS_BUILD_DIR", ROOT / "build")) / "bin" / "trellis"))
NGINX = Path("/usr/sbin/nginx")
UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")

APP_SOURCE = r'''"""Black-box review app: every route probes one PEP 3333 rule."""
import io
import json
import os
import sys
import traceback
import warnings
from urllib.parse import parse_qs
from wsgiref.validate import validator, WSGIWarning

warnings.simplefilter("error", WSGIWarning)
STATE = os.environ.get("APP_STATE", "/tmp")


def note(name, line):
    with open(os.path.join(STATE, name), "a") as f:
        f.write(line + "\n")


def qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}


def reply(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def describe(v):
    if isinstance(v, str):
        return ["str", v]
    if isinstance(v, (bool, int, tuple)):
        return [type(v).__name__, repr(v)]
    return [type(v).__name__, None]


# ---------------------------------------------------------------- routes
def r_env(environ, start_response):
    out = {k: describe(v) for k, v in environ.items()}
    return reply(start_response, out)


def r_input(environ, start_response):
    inp = environ["wsgi.input"]
    res = []
    for op in qs(environ).get("ops", "read").split(","):
        name, _, arg = op.partition(":")
        args = () if arg == "" else ((None,) if arg == "none" else (int(arg),))
        if name == "iter":
            res.append([x.decode("latin-1") for x in inp])
        elif name == "readlines":
            v = inp.readlines(*args)
            assert type(v) is list
            res.append([x.decode("latin-1") for x in v])
        elif name == "next":
            try:
                res.append(next(iter(inp)).decode("latin-1"))
            except StopIteration:
                res.append("<StopIteration>")
        else:
            v = getattr(inp, name)(*args)
            assert type(v) is bytes, type(v)
            res.append(v.decode("latin-1"))
    return reply(start_response, res)


def r_errors(environ, start_response):
    rid = qs(environ).get("rid", "x")
    err = environ["wsgi.errors"]
    err.write("errline-A-%s\n" % rid)
    err.writelines(["errline-B1-%s\n" % rid, "errline-B2-%s\n" % rid])
    err.write("errline-C-%s" % rid)
    err.flush()
    err.write("errline-\u00e9\u20ac-%s\n" % rid)
    print("stdout-line-%s" % rid, flush=True)
    print("stderr-line-%s" % rid, file=sys.stderr, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


class Closing:
    """An iterable that records every close() call."""

    def __init__(self, rid, chunks, fail_at=None, exc=ValueError):
        self.rid, self.chunks, self.fail_at, self.exc = rid, chunks, fail_at, exc

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if i == self.fail_at:
                raise self.exc("boom-%s" % self.rid)
            yield c
        if self.fail_at == len(self.chunks):
            raise self.exc("boom-%s" % self.rid)

    def close(self):
        note("close.log", self.rid)


def r_closing(environ, start_response):
    q = qs(environ)
    rid = q["rid"]
    kind = q.get("kind", "ok")
    n = int(q.get("n", "3"))
    size = int(q.get("size", "10"))
    chunks = [(b"%d" % i) * size for i in range(n)]
    headers = [("Content-Type", "text/plain")]
    if kind == "ok":
        start_response("200 OK", headers)
        return Closing(rid, chunks)
    if kind == "str_item":
        start_response("200 OK", headers)
        return Closing(rid, ["text, not bytes"])
    if kind == "str_item_late":
        start_response("200 OK", headers)
        return Closing(rid, [b"first", "text, not bytes"])
    if kind == "no_start":
        return Closing(rid, chunks)
    if kind == "raise_first":
        start_response("200 OK", headers)
        return Closing(rid, chunks, fail_at=0)
    if kind == "empty":
        start_response("200 OK", headers)
        return Closing(rid, [])
    if kind == "empty_bytes":
        start_response("200 OK", headers)
        return Closing(rid, [b"", b""])
    if kind == "slow":
        import time
        start_response("200 OK", headers)

        class Slow(Closing):
            def __iter__(self):
                for i in range(2000):
                    time.sleep(0.005)
                    yield b"x" * 65536
        return Slow(rid, [])
    raise KeyError(kind)


def r_sr_twice(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
    try:
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-Second", "1")])
    except BaseException as e:
        return [("raised:" + type(e).__name__).encode()]
    return [b"accepted"]


def r_sr_types(environ, start_response):
    kind = qs(environ)["kind"]
    bad = {
        "bytes_value": ("200 OK", [("Content-Type", b"text/plain")]),
        "bytes_name": ("200 OK", [(b"Content-Type", "text/plain")]),
        "int_value": ("200 OK", [("X-Num", 5)]),
        "bytes_status": (b"200 OK", [("Content-Type", "text/plain")]),
        "non_latin1": ("200 OK", [("X-Euro", "\u20ac")]),
        "status_no_reason": ("200", [("Content-Type", "text/plain")]),
        "status_word": ("OK 200", [("Content-Type", "text/plain")]),
        "list_header": ("200 OK", [["Content-Type", "text/plain"]]),
        "newline_value": ("200 OK", [("X-Bad", "a\r\nX-Injected: 1")]),
    }[kind]
    try:
        start_response(*bad)
        outcome = "accepted"
    except Exception as e:
        outcome = "raised:" + type(e).__name__
        start_response("200 OK", [("Content-Type", "text/plain")], sys.exc_info())
    return [outcome.encode()]


def r_exc_after_sent(environ, start_response):
    q = qs(environ)
    rid = q["rid"]
    how = q.get("how", "write")
    write = start_response("200 OK", [("Content-Type", "text/plain")])

    def fail():
        try:
            raise ValueError("original-%s" % rid)
        except ValueError as e:
            try:
                start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
            except BaseException as e2:
                note("reraise.log", "%s %s same=%s" % (rid, type(e2).__name__, e2 is e))
                raise
            note("reraise.log", "%s no-raise" % rid)
            return b"replaced"

    if how == "write":
        write(b"partial-")
        write(fail())
        return []

    def gen():
        yield b"partial-"
        yield fail()
    return gen()


def r_write(environ, start_response):
    kind = qs(environ).get("kind", "ok")
    w = start_response("200 OK", [("Content-Type", "text/plain")])
    if kind == "str":
        try:
            w("text")
            return [b"accepted"]
        except Exception as e:
            return [("raised:" + type(e).__name__).encode()]
    w(b"one,")
    w(b"")
    w(b"two,")
    return [b"three"]


def r_hop(environ, start_response):
    name, value = {
        "keepalive": ("Keep-Alive", "timeout=99"),
        "upgrade": ("Upgrade", "websocket"),
        "te": ("Transfer-Encoding", "chunked"),
        "trailer": ("Trailer", "X-Foo"),
        "proxy_auth": ("Proxy-Authenticate", "Basic"),
        "connection_close": ("Connection", "close"),
    }[qs(environ)["kind"]]
    try:
        start_response("200 OK", [("Content-Type", "text/plain"), (name, value)])
        body = b"accepted"
    except Exception as e:
        start_response("200 OK", [("Content-Type", "text/plain")], sys.exc_info())
        body = ("raised:" + type(e).__name__).encode()
    if qs(environ).get("stream"):
        return iter([body, b"-more"])
    return [body]


class ReadOnly:
    """A file-like object with read() and nothing else."""

    def __init__(self, data, rid):
        self.f = io.BytesIO(data)
        self.rid = rid

    def read(self, n=-1):
        return self.f.read(n)

    def close(self):
        note("close.log", self.rid)


class BadFileno(ReadOnly):
    def fileno(self):
        raise io.UnsupportedOperation("no fileno")


class TellLess(ReadOnly):
    def fileno(self):
        return 0  # stdin: not a regular file (or /dev/null)


def r_fw(environ, start_response):
    q = qs(environ)
    rid = q["rid"]
    kind = q["kind"]
    size = int(q.get("size", "100000"))
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    fw = environ["wsgi.file_wrapper"]
    headers = [("Content-Type", "application/octet-stream")]
    if q.get("cl"):
        headers.append(("Content-Length", q["cl"]))
    start_response("200 OK", headers)
    if kind == "bytesio":
        class B(io.BytesIO):
            def close(s):
                note("close.log", rid)
                super().close()
        return fw(B(data), 4096)
    if kind == "readonly":
        return fw(ReadOnly(data, rid), 1000)
    if kind == "badfileno":
        return fw(BadFileno(data, rid))
    if kind == "pipe":
        r, w = os.pipe()
        import threading

        def feed():
            with os.fdopen(w, "wb") as wf:
                wf.write(data)
        threading.Thread(target=feed, daemon=True).start()
        f = os.fdopen(r, "rb")
        orig_close = f.close

        class P:
            def read(s, n=-1):
                return f.read(n)

            def fileno(s):
                return f.fileno()

            def close(s):
                note("close.log", rid)
                orig_close()
        return fw(P(), 8192)
    if kind == "file":
        path = os.path.join(STATE, "fw-%s.bin" % rid)
        with open(path, "wb") as f:
            f.write(data)

        class F(io.FileIO):
            def close(s):
                if not s.closed:
                    note("close.log", rid)
                super().close()
        f = F(path, "rb")
        skip = int(q.get("skip", "0"))
        if skip:
            f.seek(skip)
        return fw(f)
    if kind == "str_read":
        return fw(io.StringIO("text"))
    raise KeyError(kind)


def r_big(environ, start_response):
    q = qs(environ)
    size = int(q["size"])
    mode = q.get("mode", "bytes")
    blob = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    headers = [("Content-Type", "application/octet-stream")]
    if q.get("cl"):
        headers.append(("Content-Length", str(size)))
    start_response("200 OK", headers)
    if mode == "bytes":
        return [blob]
    piece = int(q.get("piece", "65536"))

    def gen():
        for i in range(0, size, piece):
            yield blob[i:i + piece]
    return gen()


def r_status(environ, start_response):
    q = qs(environ)
    code = q["code"]
    headers = [(k[2:], v) for k, v in q.items() if k.startswith("h_")]
    start_response(code + " " + q.get("reason", "Whatever"), headers)
    body = q.get("body", "").encode()
    return [body] if body else []


def r_bad_return(environ, start_response):
    kind = qs(environ)["kind"]
    start_response("200 OK", [("Content-Type", "text/plain")])
    if kind == "str":
        return "hello"
    if kind == "bytes":
        return b"hello"
    if kind == "str_list":
        return ["hello"]
    if kind == "none":
        return None
    if kind == "int":
        return 5
    raise KeyError(kind)


def r_crash(environ, start_response):
    kind = qs(environ)["kind"]
    if kind == "exit":
        os._exit(3)
    if kind == "segv":
        import ctypes
        ctypes.string_at(0)
    if kind == "sysexit":
        sys.exit(4)
    if kind == "exit_midstream":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"a" * 1000
            os._exit(3)
        return gen()
    if kind == "raise_midstream":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"a" * 1000
            raise RuntimeError("midstream")
        return gen()
    raise KeyError(kind)


def r_pid(environ, start_response):
    return reply(start_response, {"pid": os.getpid()})


ROUTES = {
    "env": r_env, "input": r_input, "errors": r_errors, "closing": r_closing, "sr_twice": r_sr_twice,
    "sr_types": r_sr_types, "exc_after_sent": r_exc_after_sent, "write": r_write, "hop": r_hop,
    "fw": r_fw, "big": r_big, "status": r_status, "bad_return": r_bad_return, "crash": r_crash,
    "pid": r_pid,
}


class Guard:
    """Records validator failures raised while the server iterates/closes."""

    def __init__(self, it, rid):
        self.it, self.rid = it, rid

    def __iter__(self):
        try:
            for chunk in self.it:
                yield chunk
        except AssertionError:
            note("validator.log", "%s iter %s" % (self.rid, traceback.format_exc().replace("\n", " | ")))
            raise

    def close(self):
        try:
            self.it.close()
        except AssertionError:
            note("validator.log", "%s close %s" % (self.rid, traceback.format_exc().replace("\n", " | ")))
            raise


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    parts = path.split("/")
    validated = len(parts) > 1 and parts[1] == "v"
    if validated:
        parts = parts[1:]
    route = parts[1] if len(parts) > 1 else ""
    app = ROUTES.get(route)
    if app is None:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"no route " + path.encode("latin-1")]
    if not validated:
        return app(environ, start_response)
    rid = qs(environ).get("rid", "-")
    try:
        return Guard(validator(app)(environ, start_response), rid)
    except AssertionError:
        tb = traceback.format_exc()
        note("validator.log", "%s call %s" % (rid, tb.replace("\n", " | ")))
        body = ("VALIDATOR FAILED: " + tb).encode("utf-8", "replace")
        start_response("599 Validator", [("Content-Type", "text/plain")], sys.exc_info())
        return [body]


_STASH = {}


def r_stash(environ, start_response):
    op = qs(environ)["op"]
    if op == "save":
        w = start_response("200 OK", [("Content-Type", "text/plain")])
        _STASH.update(input=environ["wsgi.input"], errors=environ["wsgi.errors"], sr=start_response, write=w,
                      pid=os.getpid())
        return [b"saved %d" % os.getpid()]
    out = {"pid": os.getpid(), "saved_pid": _STASH.get("pid")}
    try:
        out["old_input"] = _STASH["input"].read(100).decode("latin-1")
    except Exception as e:
        out["old_input"] = "raised:" + type(e).__name__
    try:
        _STASH["write"](b"LEAKED-WRITE")
        out["old_write"] = "accepted"
    except Exception as e:
        out["old_write"] = "raised:" + type(e).__name__
    try:
        _STASH["sr"]("418 Teapot", [("X-Leak", "1")])
        out["old_sr"] = "accepted"
    except Exception as e:
        out["old_sr"] = "raised:" + type(e).__name__
    out["new_input"] = environ["wsgi.input"].read(100).decode("latin-1")
    return reply(start_response, out)


ROUTES["stash"] = r_stash


def r_misc(environ, start_response):
    kind = qs(environ)["kind"]
    if kind == "surrogate_errors":
        try:
            environ["wsgi.errors"].write("bad-\udcff-surrogate\n")
            out = "accepted"
        except Exception as e:
            out = "raised:" + type(e).__name__
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [out.encode()]
    if kind == "str_subclass":
        class S(str):
            pass
        start_response(S("200 OK"), [(S("Content-Type"), S("text/plain")), (S("X-Sub"), S("caf\u00e9"))])
        return [b"sub"]
    if kind == "tuple_headers":
        start_response("200 OK", (("Content-Type", "text/plain"),))
        return [b"tuple"]
    if kind == "latin1_reason":
        start_response("200 Gr\u00f6\u00dfe", [("Content-Type", "text/plain"), ("X-L", "\u00e9\u00ff")])
        return [b"latin1"]
    if kind == "exc_in_first_iter":
        def gen():
            try:
                raise KeyError("lazy")
            except KeyError:
                start_response("503 Lazy", [("Content-Type", "text/plain")], sys.exc_info())
            yield b"replaced-in-iter"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if kind == "errors_no_newline":
        environ["wsgi.errors"].write("tail-without-newline-" + qs(environ).get("rid", ""))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]
    raise KeyError(kind)


ROUTES["misc"] = r_misc
'''


# --------------------------------------------------------------- helpers
def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Trellis:
    """One trellis master serving the review app; .log() is all it printed."""

    def __init__(self, workdir, *extra, proto="http"):
        self.workdir = Path(workdir)
        self.state = self.workdir / "state"
        self.state.mkdir(parents=True, exist_ok=True)
        self.app = self.workdir / "review_app.py"
        self.app.write_text(APP_SOURCE)
        self.port = free_port()
        args = [str(BIN), "--plugin", "python"]
        if proto == "http":
            args += ["--plugin", "http", "--http-socket", f"127.0.0.1:{self.port}"]
        else:
            args += ["--plugin", "uwsgi", "--socket", f"127.0.0.1:{self.port}"]
        args += ["--wsgi-file", str(self.app), *extra]
        self.log_path = self.workdir / f"trellis-{self.port}.log"
        self._log = open(self.log_path, "wb")
        env = dict(os.environ, APP_STATE=str(self.state))
        self.proc = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        if not (wait_port(self.port, self.proc) and self.wait_log("workers are ready")):
            log = self.log()
            self.stop()
            raise RuntimeError("trellis did not start:\n" + log)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return text in self.log()

    def wait_request_logged(self, rid, timeout=10.0):
        """True once the request carrying rid=RID has its log line: trellis
        writes it after the application's iterable was closed, so a second
        close() would already be on record."""
        pattern = re.compile(rf"[?&]rid={re.escape(rid)}(?:&\S*)? => ")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pattern.search(self.log()):
                return True
            time.sleep(0.05)
        return bool(pattern.search(self.log()))

    def state_lines(self, name, expect=None, timeout=5.0):
        p = self.state / name
        deadline = time.monotonic() + timeout
        while True:
            lines = p.read_text().splitlines() if p.exists() else []
            if expect is None or len(lines) >= expect or time.monotonic() > deadline:
                return lines
            time.sleep(0.05)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()


NGINX_CONF = """\
user {user} {group};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{port};
        server_name review.test;
        location / {{
            include {params};
            uwsgi_pass {upstream};
            uwsgi_read_timeout 20s;
        }}
        location /mnt/ {{
            include {params};
            uwsgi_param SCRIPT_NAME /mnt;
            uwsgi_pass {upstream};
        }}
        location /tls/ {{
            include {params};
            uwsgi_param HTTPS on;
            uwsgi_pass {upstream};
        }}
    }}
}}
"""


class Nginx:
    def __init__(self, workdir, upstream):
        if not NGINX.exists() or not UWSGI_PARAMS.exists():
            pytest.skip("nginx (nginx-light) and /etc/nginx/uwsgi_params are needed")
        self.port = free_port()
        self.prefix = Path(workdir) / f"nginx-{self.port}"
        (self.prefix / "tmp").mkdir(parents=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            user=pwd.getpwuid(os.geteuid()).pw_name, group=grp.getgrgid(os.getegid()).gr_name,
            prefix=self.prefix, port=self.port, params=UWSGI_PARAMS, upstream=upstream))
        self._out = open(self.prefix / "stderr.log", "wb")
        self.proc = subprocess.Popen([str(NGINX), "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
                                     stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        if not wait_port(self.port, self.proc, timeout=10):
            self.stop()
            raise RuntimeError("nginx did not start: " + (self.prefix / "stderr.log").read_text())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._out.close()


def raw_http(port, request, timeout=10):
    """Sends raw bytes, returns everything until the server closes, plus
    whether the connection ended with a reset."""
    data, reset = b"", False
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                reset = True
                break
            if not chunk:
                break
            data += chunk
    return data, reset


def split_response(data):
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers.setdefault(k.strip().lower(), []).append(v.strip())
    return lines[0], headers, body


def dechunk(body):
    out, complete = b"", False
    while body:
        line, _, rest = body.partition(b"\r\n")
        size = int(line.split(b";")[0], 16)
        if size == 0:
            complete = True
            break
        out += rest[:size]
        body = rest[size + 2:]
    return out, complete


def uwsgi_request(port, variables, body=b"", modifier1=0, timeout=10):
    """One request over the uwsgi protocol, speaking it directly."""
    block = b""
    for k, v in variables.items():
        k, v = k.encode("latin-1"), v.encode("latin-1")
        block += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    packet = struct.pack("<BHB", modifier1, len(block), 0) + block + body
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(packet)
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def uwsgi_vars(path, query="", method="GET", **extra):
    v = {"REQUEST_METHOD": method, "REQUEST_URI": path + ("?" + query if query else ""), "PATH_INFO": path,
         "QUERY_STRING": query, "SERVER_PROTOCOL": "HTTP/1.1", "SERVER_NAME": "review.test", "SERVER_PORT": "80",
         "REMOTE_ADDR": "10.1.2.3", "REMOTE_PORT": "4444", "HTTP_HOST": "review.test"}
    v.update(extra)
    return v


def blob_sha(size):
    return hashlib.sha256((b"0123456789abcdef" * (size // 16 + 1))[:size]).hexdigest()


def fw_data(size):
    return bytes(range(256)) * (size // 256) + b"z" * (size % 256)


def assert_validator_clean(srv):
    lines = srv.state_lines("validator.log")
    assert not lines, "wsgiref.validate found PEP 3333 violations:\n" + "\n".join(lines)


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """HTTP, 2 processes."""
    s = Trellis(tmp_path_factory.mktemp("http"), "--processes", "2")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def threaded(tmp_path_factory):
    s = Trellis(tmp_path_factory.mktemp("threads"), "--processes", "2", "--threads", "4")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """trellis on the uwsgi protocol (TCP), 2 processes, behind nginx."""
    if not NGINX.exists() or not UWSGI_PARAMS.exists():
        pytest.skip("nginx (nginx-light) and /etc/nginx/uwsgi_params are needed")
    d = tmp_path_factory.mktemp("uwsgi")
    t = Trellis(d, "--processes", "2", proto="uwsgi")
    try:
        ng = Nginx(d, f"127.0.0.1:{t.port}")
    except BaseException:
        t.stop()
        raise
    t.nginx = ng
    yield t
    ng.stop()
    t.stop()


# ======================================================== HTTP: environ
def test_environ_passes_wsgiref_validator_with_correct_types(srv):
    """PEP 3333 "environ Variables": REQUEST_METHOD, SCRIPT_NAME, PATH_INFO,
    QUERY_STRING, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL must be present
    (CONTENT_TYPE/LENGTH may be absent), every CGI value is a native str,
    wsgi.version == (1, 0), wsgi.multithread/multiprocess/run_once are bools."""
    r = requests.get(srv.url + "/v/env?rid=env1", headers={"X-Custom-Thing": "v1"})
    assert r.status_code == 200, r.text
    env = r.json()
    for key in ("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL"):
        assert env[key][0] == "str", (key, env[key])
    assert env["SCRIPT_NAME"][1] == "" and env["PATH_INFO"][1] == "/v/env"
    assert env["QUERY_STRING"][1] == "rid=env1"
    assert env["SERVER_PORT"][1] == str(srv.port)
    assert env["HTTP_X_CUSTOM_THING"] == ["str", "v1"]
    assert "CONTENT_LENGTH" not in env and "CONTENT_TYPE" not in env
    assert env["wsgi.version"] == ["tuple", "(1, 0)"]
    assert env["wsgi.url_scheme"] == ["str", "http"]
    assert env["wsgi.multithread"] == ["bool", "False"]
    assert env["wsgi.multiprocess"] == ["bool", "True"]
    assert env["wsgi.run_once"] == ["bool", "False"]
    assert_validator_clean(srv)


def test_native_strings_latin1_round_trip(srv):
    """PEP 3333 "Unicode Issues": native strings hold the request bytes
    decoded as ISO-8859-1, so environ['PATH_INFO'].encode('latin-1') gives back
    the exact bytes (also for headers with obs-text)."""
    req = (b"GET /v/env/caf%C3%A9/\xe2\x82\xac?q=%C3%A9 HTTP/1.1\r\nHost: x\r\n"
           b"X-Latin: \xe9t\xe9\r\nConnection: close\r\n\r\n")
    data, _ = raw_http(srv.port, req)
    status, headers, body = split_response(data)
    assert " 200 " in status, data[:500]
    if headers.get("transfer-encoding") == ["chunked"]:
        body, _ = dechunk(body)
    env = json.loads(body)
    assert env["PATH_INFO"][1].encode("latin-1") == "/v/env/café/€".encode("utf-8")
    assert env["QUERY_STRING"][1] == "q=%C3%A9"
    assert env["HTTP_X_LATIN"][1].encode("latin-1") == b"\xe9t\xe9"
    assert_validator_clean(srv)


def test_multithread_flag_and_environ_isolation_under_threads(threaded):
    """PEP 3333: wsgi.multithread is True when the application object may be
    invoked simultaneously by another thread in the same process; each call
    gets its own environ and wsgi.input."""
    import concurrent.futures as cf

    def one(i):
        body = b"".join(b"line-%d-%d\n" % (i, j) for j in range(i % 40 + 1))
        r = requests.post(threaded.url + f"/input?ops=readline,iter&n={i}", data=body,
                          headers={"X-Token": f"tok{i}"})
        got = r.json()
        e = requests.get(threaded.url + f"/env?n={i}", headers={"X-Token": f"tok{i}"}).json()
        return ((got[0] + "".join(got[1])).encode() == body and e["HTTP_X_TOKEN"][1] == f"tok{i}"
                and e["QUERY_STRING"][1] == f"n={i}", e["wsgi.multithread"][1])

    with cf.ThreadPoolExecutor(12) as ex:
        results = list(ex.map(one, range(150)))
    assert all(ok for ok, _ in results)
    assert {mt for _, mt in results} == {"True"}


# ======================================================== HTTP: wsgi.input
BODY = b"line1\nline2\nline3 is longer\nlast"


@pytest.mark.parametrize("ops, expect", [
    ("read:4,readline,readline:3,readlines", ["line", "1\n", "lin", ["e2\n", "line3 is longer\n", "last"]]),
    ("iter", [["line1\n", "line2\n", "line3 is longer\n", "last"]]),
    ("read:-1", [BODY.decode()]),
    ("readlines:7", [["line1\n", "line2\n"]]),
    ("read:0,readline:0,read:100000,read:10,readline:5", ["", "", BODY.decode(), "", ""]),
    ("readline:100,readline:100,readline,readline,readline:9,readline", ["line1\n", "line2\n", "line3 is longer\n",
                                                                        "last", "", ""]),
])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_input_file_semantics_under_validator(srv, ops, expect, framing):
    """PEP 3333 "Input and Error Streams": read(size), readline(),
    readline(size), readlines(hint), __iter__; the server must not read past
    CONTENT_LENGTH and must return an empty bytestring at the end of input."""
    headers = {"Transfer-Encoding": "chunked"} if framing == "chunked" else {}
    data = iter([BODY[:7], BODY[7:]]) if framing == "chunked" else BODY
    r = requests.post(srv.url + f"/v/input?ops={ops}&rid=in-{framing}", data=data, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == expect
    assert_validator_clean(srv)


def test_input_without_arguments_and_without_body(srv):
    """PEP 3333: read() without size, read(None) and read(-1) return the
    rest; with no request body every method returns empty (never blocks)."""
    r = requests.post(srv.url + "/input?ops=read", data=BODY)
    assert r.json() == [BODY.decode()]
    r = requests.post(srv.url + "/input?ops=read:none,read", data=BODY)
    assert r.json() == [BODY.decode(), ""]
    r = requests.get(srv.url + "/input?ops=read,readline,readlines,iter,read:5,next", timeout=5)
    assert r.json() == ["", "", [], [], "", "<StopIteration>"]


def test_reading_past_content_length_does_not_eat_the_pipelined_request(srv):
    """PEP 3333: "the server should not allow the application to read past
    the client's CONTENT_LENGTH"; the next pipelined request stays intact."""
    r1 = b"POST /input?ops=read:100000,readline,read HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789"
    r2 = b"GET /input?ops=read HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data, _ = raw_http(srv.port, r1 + r2)
    assert data.count(b"HTTP/1.1 200 OK") == 2, data
    assert b'["0123456789", "", ""]' in data and data.endswith(b'[""]')


def test_chunked_body_sets_input_terminated_and_no_content_length(srv):
    """PEP 3333 does not define chunked input; the de-facto extension
    wsgi.input_terminated=True tells the app to read to EOF, and
    CONTENT_LENGTH must then not claim a length."""
    r = requests.post(srv.url + "/env", data=iter([b"abc", b"def"]))
    env = r.json()
    assert env["wsgi.input_terminated"] == ["bool", "True"]
    assert "CONTENT_LENGTH" not in env or env["CONTENT_LENGTH"][1] == ""


def test_stashed_request_objects_do_not_leak_into_the_next_request(tmp_path):
    """PEP 3333: wsgi.input, start_response and write() belong to one
    request; objects kept by the app must not read the next request's body
    or write into its response (trellis reuses these objects per thread)."""
    s = Trellis(tmp_path, "--processes", "1")
    try:
        assert requests.post(s.url + "/stash?op=save", data=b"first-body").status_code == 200
        r = requests.post(s.url + "/stash?op=use", data=b"second-body")
        d = r.json()
        assert d["pid"] == d["saved_pid"]
        assert d["old_input"] == ""
        assert d["old_write"].startswith("raised:") and d["old_sr"].startswith("raised:")
        assert d["new_input"] == "second-body"
        assert b"LEAKED" not in r.content and "x-leak" not in r.headers
    finally:
        s.stop()


# ======================================================== HTTP: wsgi.errors
def test_wsgi_errors_write_writelines_flush_reach_the_log(srv):
    """PEP 3333: wsgi.errors supports write(str), writelines(seq), flush();
    output goes to the server's error log. A partial line is flushed at the
    end of the request."""
    assert requests.get(srv.url + "/v/errors?rid=E7").text == "ok"
    assert requests.get(srv.url + "/misc?kind=errors_no_newline&rid=E8").text == "ok"
    for text in ("errline-A-E7", "errline-B1-E7", "errline-B2-E7", "errline-C-E7", "errline-é€-E7",
                 "tail-without-newline-E8", "stdout-line-E7", "stderr-line-E7"):
        assert srv.wait_log(text), text
    assert_validator_clean(srv)


def test_wsgi_errors_accepts_any_str(srv):
    """PEP 3333 "Input and Error Streams": wsgi.errors is a text-mode stream
    whose write(str) takes any str; sys.stderr (what wsgiref and gunicorn
    hand out) never fails on surrogates (errors='backslashreplace')."""
    r = requests.get(srv.url + "/misc?kind=surrogate_errors")
    assert r.text == "accepted"
    assert srv.wait_log("bad-")


# ======================================================== HTTP: start_response
def test_start_response_twice_without_exc_info_raises(srv):
    """PEP 3333 "The start_response() Callable": it is a fatal error to call
    start_response without exc_info if it has already been called; the
    first headers stand."""
    r = requests.get(srv.url + "/sr_twice")
    assert r.status_code == 200 and r.headers.get("X-First") == "1" and "X-Second" not in r.headers
    assert r.text == "raised:AssertionError"


@pytest.mark.parametrize("kind", ["bytes_value", "bytes_name", "int_value", "bytes_status", "non_latin1",
                                  "status_no_reason", "status_word", "list_header", "newline_value"])
def test_start_response_rejects_non_str_or_malformed(srv, kind):
    """PEP 3333: status and header names/values must be native str
    (latin-1 only, no control characters); the server should raise at
    start_response, after which a call with exc_info may replace them."""
    r = requests.get(srv.url + f"/sr_types?kind={kind}")
    assert r.status_code == 200
    assert r.text.startswith("raised:"), r.text
    assert "X-Injected" not in r.headers


@pytest.mark.parametrize("how", ["write", "iter"])
def test_exc_info_after_headers_sent_reraises_the_same_exception(srv, how):
    """PEP 3333: "if exc_info is provided, and the HTTP headers have already
    been sent, start_response must raise an error, and should re-raise using
    the exc_info tuple"."""
    rid = f"rr-{how}"
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(srv.url + f"/exc_after_sent?rid={rid}&how={how}", timeout=5).content
    lines = [l for l in srv.state_lines("reraise.log", expect=1) if l.startswith(rid + " ")]
    assert lines == [f"{rid} ValueError same=True"]


def test_exc_info_before_headers_sent_from_first_iteration_replaces(srv):
    """PEP 3333: start_response may be called again with exc_info as long as
    no body byte has gone out (here from inside the first iteration)."""
    r = requests.get(srv.url + "/misc?kind=exc_in_first_iter")
    assert r.status_code == 503 and r.text == "replaced-in-iter"


def test_str_subclass_tuple_headers_and_latin1_reason(srv):
    """PEP 3333: header values are str (a subclass is a str); latin-1
    characters go out as their ISO-8859-1 bytes."""
    r = requests.get(srv.url + "/misc?kind=str_subclass")
    assert r.status_code == 200 and r.headers["X-Sub"].encode("latin-1") == b"caf\xe9"
    data, _ = raw_http(srv.port, b"GET /misc?kind=latin1_reason HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 Gr\xf6\xdfe\r\n") and b"\r\nX-L: \xe9\xff\r\n" in data


@pytest.mark.parametrize("kind, header", [
    ("te", "transfer-encoding"),
    ("connection_close", None),
    ("keepalive", "keep-alive"),
    ("upgrade", "upgrade"),
    ("trailer", "trailer"),
    ("proxy_auth", "proxy-authenticate"),
])
def test_hop_by_hop_headers_from_the_app_never_reach_the_client(srv, kind, header):
    """PEP 3333 "Other HTTP Features": applications are forbidden from using
    hop-by-hop headers; "servers should consider it a fatal error for an
    application to attempt sending them, and raise an error if they are
    supplied to start_response()". wsgiref raises AssertionError, gunicorn
    drops them; either way they must not reach the client as sent."""
    data, _ = raw_http(srv.port, f"GET /hop?kind={kind} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    status, headers, body = split_response(data)
    assert " 200 " in status
    if kind == "connection_close":
        assert headers.get("connection") == ["close"] and body == b"accepted"
        return
    sent_as_is = body == b"accepted" and header in headers
    assert not sent_as_is, f"{header} from the application went out: {data!r}"


# ======================================================== HTTP: response bodies
def test_write_callable_rules(srv):
    """PEP 3333 "The write() Callable": write(bytes) output precedes the
    iterable's; write() of a str must raise (bytestrings only)."""
    assert requests.get(srv.url + "/v/write?rid=w1").text == "one,two,three"
    assert requests.get(srv.url + "/write?kind=str").text == "raised:TypeError"
    assert_validator_clean(srv)


@pytest.mark.parametrize("kind, status, body", [
    ("ok", 200, b"000000000011111111112222222222"),
    ("empty", 200, b""),
    ("empty_bytes", 200, b""),
    ("str_item", 500, None),
    ("no_start", 500, None),
    ("raise_first", 500, None),
])
def test_iterable_close_called_exactly_once(srv, kind, status, body):
    """PEP 3333: "If the iterable returned by the application has a close()
    method, the server or gateway must call that method upon completion of
    the current request, whether the request was completed normally, or
    terminated early due to an application error"; empty iterables give
    an empty body; str items / no start_response are application errors
    (500, logged)."""
    rid = f"once-{kind}"
    r = requests.get(srv.url + f"/closing?kind={kind}&rid={rid}")
    assert r.status_code == status
    if body is not None:
        assert r.content == body
    assert srv.wait_request_logged(rid), srv.log()[-2000:]
    assert srv.state_lines("close.log").count(rid) == 1


def test_close_called_once_when_client_disconnects_mid_stream(srv):
    """PEP 3333: close() is called also when the request is terminated early
    (client gone while a long generator streams)."""
    rid = "once-disconnect"
    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(f"GET /closing?kind=slow&rid={rid} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.recv(65536)
    lines = srv.state_lines("close.log", expect=1, timeout=20)
    deadline = time.monotonic() + 20
    while rid not in lines and time.monotonic() < deadline:
        time.sleep(0.1)
        lines = srv.state_lines("close.log")
    assert srv.wait_request_logged(rid), srv.log()[-2000:]
    assert srv.state_lines("close.log").count(rid) == 1


@pytest.mark.parametrize("kind", ["str", "bytes", "str_list", "none", "int"])
def test_wrong_return_types_are_500_and_logged(srv, kind):
    """PEP 3333: the application must return an iterable yielding zero or
    more bytestrings; returning str, bytes (iterates to ints), a list of str
    or a non-iterable is an application error: 500, traceback logged."""
    r = requests.get(srv.url + f"/bad_return?kind={kind}")
    assert r.status_code == 500
    assert srv.wait_log(f"GET /bad_return?kind={kind} => 500")


@pytest.mark.parametrize("kind", ["bytesio", "readonly", "badfileno", "pipe", "file"])
def test_file_wrapper_with_file_and_non_file_objects(srv, kind):
    """PEP 3333 "Optional Platform-Specific File Handling": file_wrapper
    must work with any object having read(); close() of the wrapped object
    is called once; the full content arrives."""
    rid = f"fw-{kind}"
    r = requests.get(srv.url + f"/fw?kind={kind}&rid={rid}&size=100003")
    assert r.status_code == 200 and r.content == fw_data(100003)
    assert srv.wait_request_logged(rid), srv.log()[-2000:]
    assert srv.state_lines("close.log").count(rid) == 1


def test_file_wrapper_respects_position_and_content_length(srv):
    """PEP 3333: transmission starts at the file's current position and must
    not exceed the application's Content-Length."""
    r = requests.get(srv.url + "/fw?kind=file&rid=fw-skip&size=5000&skip=1000")
    assert r.content == fw_data(5000)[1000:]
    r = requests.get(srv.url + "/fw?kind=pipe&rid=fw-pcl&size=5000&cl=300")
    assert r.content == fw_data(5000)[:300]
    r = requests.get(srv.url + "/fw?kind=str_read&rid=fw-str")
    assert r.status_code == 500


@pytest.mark.parametrize("mode, cl", [("bytes", ""), ("stream", ""), ("stream", "1")])
def test_very_large_responses(srv, mode, cl):
    """PEP 3333 "Buffering and Streaming": large bodies arrive intact
    (64 MiB as one bytes object or as a generator)."""
    size = 64 * 1024 * 1024
    r = requests.get(srv.url + f"/big?size={size}&mode={mode}&cl={cl}", timeout=60)
    assert len(r.content) == size and hashlib.sha256(r.content).hexdigest() == blob_sha(size)


# ======================================================== crashes
@pytest.mark.parametrize("kind", ["exit", "segv"])
def test_worker_crash_mid_request_is_respawned(tmp_path, kind):
    """uWSGI/gunicorn semantics: a worker that dies inside a request (os._exit,
    SIGSEGV) fails only that request; the master survives and respawns it;
    other requests keep being served."""
    s = Trellis(tmp_path, "--processes", "2")
    try:
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(s.url + f"/crash?kind={kind}", timeout=10)
        assert s.wait_log("died unexpectedly")
        assert s.proc.poll() is None
        for _ in range(10):
            assert requests.get(s.url + "/pid", timeout=10).status_code == 200
        assert s.wait_log("spawned worker", timeout=5)
        r = requests.get(s.url + "/crash?kind=sysexit", timeout=10)
        assert r.status_code == 500 and s.proc.poll() is None
    finally:
        s.stop()


# ======================================================== nginx + uwsgi
def test_nginx_environ_passes_validator(stack):
    """PEP 3333 "environ Variables" through nginx's uwsgi_params: every CGI
    variable a native str, REQUEST_URI raw, PATH_INFO decoded bytes as
    latin-1 str, QUERY_STRING undecoded, REMOTE_ADDR/PORT, SERVER_NAME/PORT."""
    c = http.client.HTTPConnection("127.0.0.1", stack.nginx.port, timeout=10)
    c.request("GET", "/v/env/caf%C3%A9%20x?a=%C3%A9&rid=ng1")
    resp = c.getresponse()
    body = resp.read()
    client_port = c.sock.getsockname()[1]
    c.close()
    assert resp.status == 200, body
    env = json.loads(body)
    assert env["REQUEST_URI"][1] == "/v/env/caf%C3%A9%20x?a=%C3%A9&rid=ng1"
    assert env["PATH_INFO"][1].encode("latin-1") == "/v/env/café x".encode()
    assert env["QUERY_STRING"][1] == "a=%C3%A9&rid=ng1"
    assert env["REMOTE_ADDR"][1] == "127.0.0.1" and env["REMOTE_PORT"][1] == str(client_port)
    assert env["SERVER_NAME"][1] == "review.test" and env["SERVER_PORT"][1] == str(stack.nginx.port)
    assert env["SCRIPT_NAME"][1] == "" and env["wsgi.url_scheme"][1] == "http"
    assert all(v[0] == "str" for k, v in env.items() if "." not in k)
    assert_validator_clean(stack)


def test_nginx_script_name_and_https(stack):
    """PEP 3333: SCRIPT_NAME from the front end (uwsgi_param) reaches the
    app; HTTPS=on gives wsgi.url_scheme 'https'. (PATH_INFO stays nginx's
    $document_uri, as in uWSGI without --manage-script-name.)"""
    r = requests.get(stack.nginx.url + "/tls/x", timeout=10)
    assert r.status_code == 404  # routed by PATH_INFO /tls/x
    data = uwsgi_request(stack.port, uwsgi_vars("/env", HTTPS="on"))
    _, _, body = split_response(data)
    assert json.loads(body)["wsgi.url_scheme"][1] == "https"
    data = uwsgi_request(stack.port, uwsgi_vars("/env/x", SCRIPT_NAME="/mnt"))
    env = json.loads(split_response(data)[2])
    assert env["SCRIPT_NAME"][1] == "/mnt" and env["PATH_INFO"][1] == "/env/x"


@pytest.mark.parametrize("chunked", [False, True])
def test_nginx_request_body_input_semantics(stack, chunked):
    """PEP 3333 wsgi.input behind nginx (Content-Length and chunked from the
    client; nginx buffers and sends CONTENT_LENGTH)."""
    data = iter([BODY[:5], BODY[5:]]) if chunked else BODY
    r = requests.post(stack.nginx.url + "/v/input?ops=read:4,readline,readline:3,readlines,iter,read:10&rid=ngi",
                      data=data)
    assert r.status_code == 200, r.text
    assert r.json() == ["line", "1\n", "lin", ["e2\n", "line3 is longer\n", "last"], [], ""]
    r = requests.get(stack.nginx.url + "/input?ops=read,readline,readlines,iter")
    assert r.json() == ["", "", [], []]
    assert_validator_clean(stack)


def test_nginx_keepalive_client_head_204_304_and_streams(stack):
    """Behind nginx, one keep-alive client connection: HEAD has no body,
    204/304 carry no body, empty/streamed/large responses are complete
    (PEP 3333 "Buffering and Streaming")."""
    c = http.client.HTTPConnection("127.0.0.1", stack.nginx.port, timeout=20)
    first_sock = None

    def req(method, path):
        nonlocal first_sock
        c.request(method, path)
        r = c.getresponse()
        body = r.read()
        first_sock = first_sock or c.sock.getsockname()
        assert c.sock.getsockname() == first_sock, "nginx closed the client connection"
        return r, body

    r, b = req("HEAD", "/big?size=100000&mode=bytes")
    assert r.status == 200 and b == b""
    r, b = req("GET", "/status?code=204&h_X-A=1&body=xyz")
    assert r.status == 204 and b == b"" and r.getheader("X-A") == "1"
    r, b = req("GET", "/status?code=304&h_ETag=abc&body=xyz")
    assert r.status == 304 and b == b""
    r, b = req("GET", "/closing?kind=empty&rid=ng-empty")
    assert r.status == 200 and b == b""
    r, b = req("GET", "/closing?kind=ok&rid=ng-ok")
    assert b == b"000000000011111111112222222222"
    size = 3 * 1024 * 1024 + 7
    r, b = req("GET", f"/big?size={size}&mode=stream&piece=1000")
    assert hashlib.sha256(b).hexdigest() == blob_sha(size)
    for i in range(10):
        r, b = req("GET", f"/fw?kind=file&rid=ng-fw{i}&size=70000")
        assert b == fw_data(70000)
    c.close()
    for rid in ("ng-ok", "ng-empty", "ng-fw9"):
        assert stack.wait_request_logged(rid), (rid, stack.log()[-2000:])
    closes = stack.state_lines("close.log")
    assert closes.count("ng-ok") == 1 and closes.count("ng-empty") == 1 and closes.count("ng-fw9") == 1


def test_nginx_errors_and_start_response_rules(stack):
    """PEP 3333 wsgi.errors / start_response behind the uwsgi plugin."""
    assert requests.get(stack.nginx.url + "/v/errors?rid=NE9").text == "ok"
    assert stack.wait_log("errline-B2-NE9") and stack.wait_log("errline-C-NE9")
    r = requests.get(stack.nginx.url + "/sr_twice")
    assert r.text == "raised:AssertionError" and "X-Second" not in r.headers
    for kind in ("bytes_value", "int_value", "non_latin1", "newline_value"):
        assert requests.get(stack.nginx.url + f"/sr_types?kind={kind}").text.startswith("raised:")
    assert requests.get(stack.nginx.url + "/bad_return?kind=str").status_code == 500
    assert_validator_clean(stack)


def test_nginx_error_mid_stream_is_not_a_complete_response(stack):
    """PEP 3333 "Error Handling": once headers are sent the server must end
    the response abnormally; the client of nginx must not get a response
    that looks complete."""
    with pytest.raises(requests.exceptions.RequestException):
        requests.get(stack.nginx.url + "/crash?kind=raise_midstream", timeout=10).content
    assert requests.get(stack.nginx.url + "/pid").status_code == 200


@pytest.mark.parametrize("kind", ["exit", "segv"])
def test_nginx_app_crash_is_502_and_trellis_keeps_serving(stack, kind):
    """A worker dying inside a request: nginx answers 502, the master
    respawns the worker, later requests succeed."""
    r = requests.get(stack.nginx.url + f"/crash?kind={kind}", timeout=15)
    assert r.status_code == 502
    assert stack.proc.poll() is None
    for _ in range(6):
        assert requests.get(stack.nginx.url + "/pid", timeout=15).status_code == 200


def test_uwsgi_minimal_packet_environ_is_valid(stack):
    """PEP 3333 via the raw uwsgi protocol: a front end sending only
    REQUEST_METHOD and PATH_INFO still yields an environ that passes the
    validator (defaults for SERVER_NAME/PORT/QUERY_STRING)."""
    data = uwsgi_request(stack.port, {"REQUEST_METHOD": "GET", "PATH_INFO": "/v/env"})
    status, _, body = split_response(data)
    assert " 200 " in status, data[:2000]
    env = json.loads(body)
    assert env["SERVER_NAME"][0] == "str" and env["SERVER_PORT"][0] == "str"
    assert env["QUERY_STRING"] == ["str", ""]
    data = uwsgi_request(stack.port, uwsgi_vars("/env/caf\xc3\xa9", HTTP_X_NAME="\xe9t\xe9"))
    env = json.loads(split_response(data)[2])
    assert env["PATH_INFO"][1].encode("latin-1") == "/env/café".encode()
    assert env["HTTP_X_NAME"][1] == "\xe9t\xe9"


@pytest.mark.parametrize("stream", ["", "1"])
def test_uwsgi_transfer_encoding_from_app_is_refused(stack, stream):
    """PEP 3333 "Other HTTP Features": hop-by-hop headers such as
    Transfer-Encoding are a fatal application error to be raised by
    start_response (the HTTP plugin does this); RFC 9112 §6.2: a message
    must not carry both Transfer-Encoding and Content-Length, and a
    chunked-labelled body must be chunked."""
    data = uwsgi_request(stack.port, uwsgi_vars("/hop", f"kind=te&stream={stream}"))
    status, headers, body = split_response(data)
    assert " 200 " in status
    assert "transfer-encoding" not in headers, data
    assert body.startswith(b"raised:")


def test_uwsgi_modifier1_30_strips_script_name(stack):
    """uWSGI compatibility (nginx `uwsgi_modifier1 30;`): the Python plugin
    serves modifier1 30 requests and removes SCRIPT_NAME from PATH_INFO, so
    SCRIPT_NAME + PATH_INFO is the request path as PEP 3333 requires."""
    data = uwsgi_request(stack.port, uwsgi_vars("/mnt/env/x", SCRIPT_NAME="/mnt"), modifier1=30)
    assert data, "connection closed without a response"
    env = json.loads(split_response(data)[2])
    assert env["SCRIPT_NAME"][1] == "/mnt" and env["PATH_INFO"][1] == "/env/x"
