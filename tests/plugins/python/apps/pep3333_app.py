"""One WSGI application covering every PEP 3333 behaviour the tests check.

CPython starts once per process, so the C++ tests drive this single app and
pick a behaviour by PATH_INFO.
"""
import io
import json
import sys
import threading
import time

STALE = {}


def _json(start_response, obj, status="200 OK"):
    body = json.dumps(obj).encode()
    start_response(status, [("Content-Type", "application/json")])
    return [body]


def environ_dump(environ, start_response):
    out = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool, int)) or value is None:
            shown = value
        elif isinstance(value, tuple):
            shown = list(value)
        else:
            shown = repr(value)
        out[key] = [type(value).__name__, shown]
    out["_types_native"] = all(type(k) is str for k in environ)
    out["_errors_has_write"] = hasattr(environ["wsgi.errors"], "write")
    out["_input_has_read"] = hasattr(environ["wsgi.input"], "read")
    out["_file_wrapper_callable"] = callable(environ["wsgi.file_wrapper"])
    return _json(start_response, out)


class Tracked:
    """An iterable whose close() leaves a line in the server log."""

    def __init__(self, environ, chunks, fail_at=None):
        self.errors = environ["wsgi.errors"]
        self.chunks = chunks
        self.fail_at = fail_at
        self.produced = 0

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            if i == self.fail_at:
                raise RuntimeError("failed while iterating")
            self.produced += 1
            yield chunk

    def close(self):
        self.errors.write("closed after %d chunks\n" % self.produced)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    inp = environ["wsgi.input"]
    query = environ.get("QUERY_STRING", "")

    if path == "/environ":
        return environ_dump(environ, start_response)
    if path == "/sys":
        return _json(start_response, {"executable": sys.executable, "prefix": sys.prefix,
                                      "base_prefix": sys.base_prefix, "path": sys.path,
                                      "version": sys.version, "argv": sys.argv})
    if path == "/echo":
        body = inp.read()
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [body]
    if path == "/read_n":
        n = int(query)
        sizes = []
        while True:
            chunk = inp.read(n)
            if not chunk:
                break
            sizes.append(len(chunk))
        return _json(start_response, sizes)
    if path == "/read_none":
        return _json(start_response, [inp.read(None).decode("latin-1"), inp.read(-1).decode("latin-1"),
                                      inp.read(5).decode("latin-1")])
    if path == "/readline":
        limit = int(query) if query else -1
        lines = []
        while True:
            line = inp.readline(limit) if limit >= 0 else inp.readline()
            if not line:
                break
            lines.append(line.decode("latin-1"))
        return _json(start_response, lines)
    if path == "/readlines":
        hint = int(query) if query else -1
        first = inp.readlines(hint) if hint > 0 else inp.readlines()
        rest = inp.read()
        return _json(start_response, [[l.decode("latin-1") for l in first], rest.decode("latin-1")])
    if path == "/iter":
        return _json(start_response, [l.decode("latin-1") for l in inp])
    if path == "/mixed":
        a = inp.readline()
        b = inp.read(3)
        c = inp.readline(2)
        d = inp.read()
        e = inp.read()
        return _json(start_response, [x.decode("latin-1") for x in (a, b, c, d, e)])
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"first ")
        write(b"")
        write(b"second ")
        return [b"third"]
    if path == "/write_str":
        write = start_response("200 OK", [])
        write("not bytes")
        return []
    if path == "/write_gone":
        write = start_response("200 OK", [])
        for _ in range(10):
            write(b"chunk")  # the fake client goes away: OSError propagates
        return []
    if path == "/exc_info_replace":
        start_response("200 OK", [("X-First", "1")])
        try:
            raise ValueError("replace me")
        except ValueError:
            start_response("503 Service Unavailable", [("X-Second", "2")], sys.exc_info())
        return [b"replaced"]
    if path == "/exc_info_after_sent":
        write = start_response("200 OK", [])
        write(b"partial")
        try:
            raise ValueError("original error")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"never"]
    if path == "/exc_info_reraise_check":
        write = start_response("200 OK", [])
        write(b"partial")
        try:
            raise KeyError("kept")
        except KeyError:
            try:
                start_response("500 Oops", [], sys.exc_info())
            except KeyError as e:
                environ["wsgi.errors"].write("reraised same: %s\n" % (e.args[0] == "kept"))
        return [b"-end"]
    if path == "/twice":
        start_response("200 OK", [])
        start_response("200 OK", [])
        return [b"never"]
    if path == "/raise":
        raise RuntimeError("boom from the app")
    if path == "/system_exit":
        raise SystemExit(3)
    if path == "/no_start":
        return [b"body without headers"]
    if path == "/no_start_empty":
        return []
    if path == "/str_body":
        start_response("200 OK", [])
        return ["text is not bytes"]
    if path == "/str_body_after":
        start_response("200 OK", [])

        def gen():
            yield b"bytes first"
            yield "then a str"
        return gen()
    if path == "/bad_status":
        start_response("OK", [])
        return [b"x"]
    if path == "/bad_status_type":
        start_response(b"200 OK", [])
        return [b"x"]
    if path == "/bad_header_value":
        start_response("200 OK", [("X-Evil", "a\r\nInjected: 1")])
        return [b"x"]
    if path == "/bad_header_type":
        start_response("200 OK", [("X-Num", 42)])
        return [b"x"]
    if path == "/non_latin1_header":
        start_response("200 OK", [("X-Name", "\u20ac")])
        return [b"x"]
    if path == "/latin1_header":
        start_response("200 OK", [("X-Name", "caf\xe9")])
        return [b"x"]
    if path == "/single":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"hello"]
    if path == "/tuple":
        start_response("200 OK", [])
        return (b"a", b"b")
    if path == "/multi":
        start_response("200 OK", [])
        return [b"a", b"b", b""]
    if path == "/gen":
        def gen():
            start_response("200 OK", [])  # late start_response is legal
            yield b"a"
            yield b""
            yield b"b"
        return gen()
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/close_ok":
        start_response("200 OK", [])
        return Tracked(environ, [b"1", b"2", b"3"])
    if path == "/close_error":
        start_response("200 OK", [])
        return Tracked(environ, [b"1", b"2", b"3"], fail_at=0)
    if path == "/close_error_after_sent":
        start_response("200 OK", [])
        return Tracked(environ, [b"1", b"2", b"3"], fail_at=2)
    if path == "/close_gone":
        start_response("200 OK", [])
        return Tracked(environ, [b"chunk%d" % i for i in range(100)])
    if path == "/close_list_subclass":
        # A list whose subclass has close(): not every list is closeless.
        class ClosingList(list):
            def close(self):
                environ["wsgi.errors"].write("list subclass closed\n")
        start_response("200 OK", [])
        return ClosingList([b"x", b"y"])
    if path == "/close_raises":
        class BadClose:
            def __iter__(self):
                return iter([b"ok"])

            def close(self):
                raise ValueError("close failed")
        start_response("200 OK", [])
        return BadClose()
    if path == "/filewrapper":
        # query: "<path>,<offset>,<content-length or ->"
        fname, offset, length = query.split(",")
        f = open(fname, "rb")
        f.seek(int(offset))
        headers = [("Content-Type", "application/octet-stream")]
        if length != "-":
            headers.append(("Content-Length", length))
        start_response("200 OK", headers)
        return environ["wsgi.file_wrapper"](f, 4096)
    if path == "/filewrapper_buffered":
        # a read through Python's buffer moves the fd further than tell()
        fname = query
        f = open(fname, "rb")
        f.read(2)
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](f)
    if path == "/filewrapper_bytesio":
        start_response("200 OK", [])
        return environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789"), 4)
    if path == "/errors":
        err = environ["wsgi.errors"]
        err.write("line one\n")
        err.write("partial ")
        err.write("joined\nline three\n")
        err.writelines(["from ", "writelines\n"])
        err.write("no newline at end")
        err.flush()
        print("printed to errors", file=err)
        return _json(start_response, "ok")
    if path == "/keep":
        STALE["input"] = inp
        STALE["start_response"] = start_response
        STALE["environ"] = environ
        return _json(start_response, "kept")
    if path == "/use_stale":
        result = {}
        try:
            STALE["start_response"]("200 OK", [])
            result["start_response"] = "no error"
        except RuntimeError as e:
            result["start_response"] = "RuntimeError"
        result["stale_input_read"] = STALE["input"].read().decode()
        result["same_input"] = STALE["input"] is inp
        return _json(start_response, result)
    if path == "/slow_echo":
        body = inp.read()
        time.sleep(0.05)  # releases the GIL: threads overlap here
        start_response("200 OK", [("X-Thread", str(threading.get_ident()))])
        return [body]
    if path == "/atexit":
        import atexit

        def touch(name=query):
            with open(name, "w") as f:
                f.write("ran")
        atexit.register(touch)
        return _json(start_response, "registered")
    if path == "/multithread":
        return _json(start_response, [environ["wsgi.multithread"], environ["wsgi.multiprocess"]])
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no route " + path.encode("latin-1")]


application = app
