"""A plain PEP 3333 application exercising every corner of the WSGI host.

Routes are chosen by PATH_INFO's first segment; see each handler. Events the
tests need to observe after the fact (close() calls) are appended to files
in $APP_STATE_DIR.
"""
import atexit
import hashlib
import io
import json
import os
import sys
import threading
import time
from urllib.parse import parse_qs

IMPORT_PID = os.getpid()
STATE_DIR = os.environ.get("APP_STATE_DIR", "")


def _at_exit():
    record("atexit.log", f"atexit {os.getpid()}")


atexit.register(_at_exit)


def record(name, line):
    if not STATE_DIR:
        return
    with open(os.path.join(STATE_DIR, name), "a") as f:
        f.write(line + "\n")


def qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}


def json_response(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def describe(value):
    if isinstance(value, (str, bool, int, float)) or value is None:
        return [type(value).__name__, value]
    if isinstance(value, tuple):
        return ["tuple", list(value)]
    return [type(value).__name__, None]


def env_dump(environ, start_response):
    out = {k: describe(v) for k, v in environ.items()}
    inp = environ["wsgi.input"]
    err = environ["wsgi.errors"]
    out["_input_methods"] = [m for m in ("read", "readline", "readlines", "__iter__") if callable(getattr(inp, m, None))]
    out["_errors_methods"] = [m for m in ("write", "writelines", "flush") if callable(getattr(err, m, None))]
    out["_file_wrapper_callable"] = callable(environ.get("wsgi.file_wrapper"))
    out["_pid"] = os.getpid()
    out["_import_pid"] = IMPORT_PID
    out["_module_name"] = __name__
    out["_body"] = inp.read().decode("latin-1")
    return json_response(start_response, out)


def run_ops(f, ops):
    """Applies read/readline/readlines calls to a file-like; one result each."""
    out = []
    for op in ops.split(","):
        name, _, arg = op.partition(":")
        n = int(arg) if arg else None
        if name == "r":
            data = f.read() if n is None else f.read(n)
        elif name == "l":
            data = f.readline() if n is None else f.readline(n)
        elif name == "ls":
            data = b"|".join(f.readlines())
        elif name == "it":
            data = next(iter(f), b"<stop>")
        else:
            raise ValueError(op)
        out.append([len(data), hashlib.sha256(data).hexdigest()[:16]])
    return out


def input_modes(environ, start_response):
    q = qs(environ)
    if q.get("mode") == "ops":
        return json_response(start_response, run_ops(environ["wsgi.input"], q["ops"]))
    mode = q.get("mode", "read")
    inp = environ["wsgi.input"]
    pieces = []
    if mode == "read":
        pieces.append(inp.read())
    elif mode == "readn":
        n = int(q.get("n", "7777"))
        while True:
            b = inp.read(n)
            if not b:
                break
            assert len(b) <= n, (len(b), n)
            pieces.append(b)
    elif mode == "readline":
        while True:
            line = inp.readline()
            if not line:
                break
            pieces.append(line)
    elif mode == "readline_limit":
        while True:
            line = inp.readline(int(q.get("n", "5")))
            if not line:
                break
            pieces.append(line)
    elif mode == "readlines":
        pieces.extend(inp.readlines())
    elif mode == "iter":
        for line in inp:
            pieces.append(line)
    elif mode == "cl":
        # What Django does: read exactly CONTENT_LENGTH bytes.
        pieces.append(inp.read(int(environ.get("CONTENT_LENGTH") or 0)))
    data = b"".join(pieces)
    return json_response(start_response, {
        "len": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "pieces": len(pieces),
        "piece_lens": [len(p) for p in pieces[:50]],
        "after_eof": len(inp.read()),
        "content_length": environ.get("CONTENT_LENGTH"),
        "transfer_encoding": environ.get("HTTP_TRANSFER_ENCODING"),
        "input_terminated": environ.get("wsgi.input_terminated"),
        "head": data[:64].decode("latin-1"),
    })


def write_then_iterable(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"one,")
    write(b"two,")
    return [b"three,", b"four"]


def file_route(environ, start_response):
    q = qs(environ)
    path = os.path.join(STATE_DIR, q["name"])
    headers = [("Content-Type", "application/octet-stream")]
    if q.get("cl"):
        headers.append(("Content-Length", str(os.path.getsize(path))))
    start_response("200 OK", headers)
    if q.get("bytesio"):
        with open(path, "rb") as f:
            f_like = io.BytesIO(f.read())
    else:
        f_like = open(path, "rb")
        if q.get("seek"):
            f_like.seek(int(q["seek"]))
    return environ["wsgi.file_wrapper"](f_like, 32768)


def stream(environ, start_response):
    q = qs(environ)
    n = int(q.get("n", "5"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        for i in range(n):
            yield f"chunk-{i};".encode()
            time.sleep(float(q.get("delay", "0")))
    return gen()


def status_route(environ, start_response):
    code = qs(environ).get("code", "200")
    reasons = {"200": "OK", "204": "No Content", "304": "Not Modified", "404": "Not Found", "418": "I'm a teapot"}
    start_response(f"{code} {reasons.get(code, 'Whatever')}", [("Content-Type", "text/plain"), ("X-Code", code)])
    return [b"this body must not be sent for 204/304"]


def excinfo_before(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Original", "yes")])
    try:
        raise ValueError("failed after start_response, before the body")
    except ValueError:
        start_response("503 Replaced Status", [("Content-Type", "text/plain"), ("X-Replacement", "yes")],
                       sys.exc_info())
    return [b"replacement body"]


def excinfo_after(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"partial body already sent;")
    try:
        raise KeyError("too late to change the status")
    except KeyError:
        # PEP 3333: headers were sent, so this must re-raise.
        start_response("500 Nope", [("Content-Type", "text/plain")], sys.exc_info())
    record("excinfo.log", "start_response did not raise")
    return [b"must never be sent"]


def errors_route(environ, start_response):
    kind = environ["PATH_INFO"].split("/")[2]
    if kind == "exception":
        raise RuntimeError("deliberate-app-exception-marker")
    if kind == "no_start":
        return [b"body without start_response"]
    if kind == "no_start_empty":
        return []
    if kind == "str_body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["a str is not bytes"]
    if kind == "bad_status":
        start_response("200OK", [("Content-Type", "text/plain")])
        return [b"bad status"]
    if kind == "bad_status_type":
        start_response(200, [("Content-Type", "text/plain")])
        return [b"bad status"]
    if kind == "crlf_header":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Evil", "a\r\nInjected: yes")])
        return [b"header injection"]
    if kind == "iter_first":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            raise ZeroDivisionError("deliberate-before-first-chunk")
            yield b"never"
        return gen()
    if kind == "twice":
        start_response("200 OK", [])
        start_response("201 Created", [])
        return [b"twice"]
    raise LookupError(kind)


def stream_error(environ, start_response):
    q = qs(environ)
    headers = [("Content-Type", "text/plain")]
    if q.get("cl"):
        headers.append(("Content-Length", "1000"))
    start_response("200 OK", headers)

    def gen():
        yield b"first chunk;"
        yield b"second chunk;"
        raise RuntimeError("deliberate-mid-stream-failure")
    return gen()


class ClosingBody:
    """An iterable with close(); records both iteration and close()."""

    def __init__(self, tag, chunks, fail_at=None, delay=0.0, gate=None):
        self.tag, self.chunks, self.fail_at, self.delay, self.gate = tag, chunks, fail_at, delay, gate

    def __iter__(self):
        for i, c in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError(f"deliberate-iteration-failure {self.tag}")
            if self.delay:
                time.sleep(self.delay)
            yield c

    def close(self):
        if self.gate:  # close() waits until the test creates this file (10 s at most)
            deadline = time.monotonic() + 10
            while not os.path.exists(self.gate) and time.monotonic() < deadline:
                time.sleep(0.01)
        record("close.log", f"close {self.tag}")


def close_route(environ, start_response):
    kind = environ["PATH_INFO"].split("/")[2]
    tag = qs(environ).get("tag", kind)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if kind == "ok":
        return ClosingBody(tag, [b"a", b"b", b"c"])
    if kind == "fail":
        return ClosingBody(tag, [b"a", b"b", b"c"], fail_at=1)
    if kind == "gated":
        return ClosingBody(tag, [b"a", b"b", b"c"], gate=os.path.join(STATE_DIR, f"{tag}.release"))
    if kind == "disconnect":
        return ClosingBody(tag, [b"x" * 65536] * 2000, delay=0.002)
    if kind == "generator":
        def gen():
            try:
                for _ in range(2000):
                    yield b"y" * 65536
                    time.sleep(0.002)
                record("close.log", f"exhausted {tag}")
            finally:
                record("close.log", f"generator-finally {tag}")
        return gen()
    raise LookupError(kind)


def sleep_route(environ, start_response):
    secs = float(qs(environ).get("s", "0.5"))
    t0 = time.time()
    time.sleep(secs)
    return json_response(start_response, {"pid": os.getpid(), "thread": threading.get_ident(),
                                          "start": t0, "end": time.time()})


def errors_stream(environ, start_response):
    err = environ["wsgi.errors"]
    err.write("wsgi-errors-marker line one\n")
    err.writelines(["wsgi-errors-marker ", "line two\n"])
    err.flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]


def misc(environ, start_response):
    kind = environ["PATH_INFO"].split("/")[2]
    inp = environ["wsgi.input"]
    if kind == "read_none":
        a = inp.read(None)
        return json_response(start_response, {"len": len(a), "line": len(inp.readline(None))})
    if kind == "none":
        start_response("200 OK", [])
        return None
    if kind == "bytearray":
        start_response("200 OK", [])
        return [bytearray(b"bytearray body")]
    if kind == "nonlatin1_header":
        start_response("200 OK", [("X-Name", "\u20ac uro")])
        return [b"euro"]
    if kind == "bad_cl":
        start_response("200 OK", [("Content-Length", "abc")])
        return [b"abc"]
    if kind == "short_cl":
        start_response("200 OK", [("Content-Length", "100")])
        return [b"only ten.."]
    if kind == "long_cl":
        start_response("200 OK", [("Content-Length", "5")])
        return [b"12345", b"6789"]
    if kind == "empty_list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return []
    if kind == "empty_items":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"", b"x", b""]
    if kind == "write_only":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written")
        return []
    if kind == "connection_close":
        start_response("200 OK", [("Connection", "close"), ("Content-Length", "2")])
        return [b"ok"]
    if kind == "hop_te":
        start_response("200 OK", [("Transfer-Encoding", "chunked")])
        return [b"te"]
    if kind == "many_headers":
        start_response("200 OK", [("X-H%d" % i, "v" * 100) for i in range(300)])
        return [b"many"]
    if kind == "set_cookies":
        start_response("200 OK", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")])
        return [b"cookies"]
    if kind == "empty_then_fail":
        write = start_response("200 OK", [])
        write(b"")

        def gen():
            yield b""
            yield b""
            raise RuntimeError("deliberate-after-empty-items")
        return gen()
    if kind == "lazy_start":
        # PEP 3333 allows calling start_response from the first iteration.
        def gen():
            start_response("200 OK", [("Content-Type", "text/plain"), ("X-Lazy", "1")])
            yield b"lazy "
            yield b"start"
        return gen()
    if kind == "close_raises":
        class Body:
            def __iter__(self):
                return iter([b"body ok"])

            def close(self):
                raise RuntimeError("deliberate-close-failure")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()
    if kind == "int_header":
        start_response("200 OK", [("X-Int", 5)])
        return [b"int"]
    raise LookupError(kind)


def hello(environ, start_response):
    body = b"Hello from wsgi_app"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


ROUTES = {
    "env": env_dump,
    "input": input_modes,
    "write": write_then_iterable,
    "file": file_route,
    "stream": stream,
    "status": status_route,
    "excinfo-before": excinfo_before,
    "excinfo-after": excinfo_after,
    "err": errors_route,
    "stream-error": stream_error,
    "close": close_route,
    "sleep": sleep_route,
    "errors": errors_stream,
    "hello": hello,
    "misc": misc,
}


def application(environ, start_response):
    first = environ["PATH_INFO"].split("/")[1] if environ["PATH_INFO"].startswith("/") else ""
    handler = ROUTES.get(first)
    if handler is None:
        return env_dump(environ, start_response)
    return handler(environ, start_response)


def other_app(environ, start_response):
    """Selected with --callable other_app."""
    body = b"other callable"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body]


class Factory:
    app = staticmethod(other_app)


factory = Factory()
