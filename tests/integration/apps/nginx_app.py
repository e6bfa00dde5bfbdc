"""The WSGI application behind nginx's uwsgi_pass in test_nginx_uwsgi.py.

Routes (first PATH_INFO segment):
  /env/...     JSON of every str environ value, plus wsgi.url_scheme
  /upload      reads wsgi.input in pieces; JSON {length, sha256, content_length}
  /big         ?size=N&mode=stream|bytes: N deterministic bytes (payload(N)),
               as a generator of 64 KiB pieces or as one bytes object
  /whoami      the token chosen at import and the pid: which app served it
  /gated       ?gate=PATH: a streamed body whose close() waits (10 s at most)
               for the file PATH, then creates PATH.closed
"""
import hashlib
import json
import os
import random
import time
from urllib.parse import parse_qs

TOKEN = os.urandom(8).hex()
_PAYLOADS = {}


def payload(size):
    """The same `size` bytes every time, here and in the tests."""
    data = _PAYLOADS.get(size)
    if data is None:
        data = _PAYLOADS[size] = random.Random(20240611).randbytes(size)
    return data


def _qs(environ):
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}


def _json(start_response, obj):
    body = json.dumps(obj).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def env(environ, start_response):
    out = {k: v for k, v in environ.items() if isinstance(v, str)}
    out["_body"] = environ["wsgi.input"].read().decode("latin-1")
    return _json(start_response, out)


def upload(environ, start_response):
    inp = environ["wsgi.input"]
    h = hashlib.sha256()
    n = 0
    while True:
        piece = inp.read(65536)
        if not piece:
            break
        h.update(piece)
        n += len(piece)
    return _json(start_response, {"length": n, "sha256": h.hexdigest(),
                                  "content_length": environ.get("CONTENT_LENGTH", "")})


def big(environ, start_response):
    q = _qs(environ)
    data = payload(int(q.get("size", "0")))
    if q.get("mode") == "bytes":
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return [data]
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def pieces():
        view = memoryview(data)
        for i in range(0, len(data), 65536):
            yield bytes(view[i:i + 65536])
    return pieces()


def whoami(environ, start_response):
    return _json(start_response, {"token": TOKEN, "pid": os.getpid()})


class GatedBody:
    def __init__(self, gate):
        self.gate = gate

    def __iter__(self):
        yield b"gated "
        yield b"body"

    def close(self):
        deadline = time.monotonic() + 10
        while not os.path.exists(self.gate) and time.monotonic() < deadline:
            time.sleep(0.01)
        open(self.gate + ".closed", "w").close()


def gated(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return GatedBody(_qs(environ)["gate"])


ROUTES = {"env": env, "upload": upload, "big": big, "whoami": whoami, "gated": gated}


def application(environ, start_response):
    first = environ.get("PATH_INFO", "/").lstrip("/").split("/", 1)[0]
    handler = ROUTES.get(first)
    if handler is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    return handler(environ, start_response)
