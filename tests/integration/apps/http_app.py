"""WSGI app for the HTTP/1.1 plugin's integration tests: responses whose
framing the application controls. The route is PATH_INFO; any path not in
ROUTES (and not /status/NNN) answers with a JSON description of the
request as the server presented it."""
import json


def _plain(start_response, body, extra=()):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))), *extra])
    return [body]


def describe(environ, start_response):
    # What the server told us about the request (the body is not read).
    keys = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
            "SERVER_PROTOCOL", "CONTENT_LENGTH", "CONTENT_TYPE")
    out = {k: environ.get(k) for k in keys}
    out["headers"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def read(environ, start_response):
    body = environ["wsgi.input"].read()
    return _plain(start_response, b"%d:" % len(body) + body)


def respond_then_read(environ, start_response):
    # Response head and a first piece go out before the body is read: no
    # 100 (Continue) may follow a final response's head.
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"head-first;")
    body = environ["wsgi.input"].read()
    return [b"%d:" % len(body) + body]


def ignore_body(environ, start_response):
    # Never touches wsgi.input: a 100-continue must not be sent.
    return _plain(start_response, b"ignored")


def fixed(environ, start_response):
    # Content-Length given by the app; the body comes in three pieces.
    body = b"0123456789" * 3
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return iter([body[:10], body[10:20], body[20:]])


def stream(environ, start_response):
    # No Content-Length, a generator: the server must frame it.
    start_response("200 OK", [("Content-Type", "text/plain")])
    return (b"piece-%d;" % i for i in range(5))


def head_body(environ, start_response):
    # Answers HEAD with a body, as many apps do; it must not reach the wire.
    body = b"this is the body a GET would get\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def head_stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return iter([b"streamed-", b"body"])


def status(environ, start_response):
    # 204 / 304 with a body and a Content-Length, from a sloppy app.
    code = environ["PATH_INFO"][len("/status/"):]
    reasons = {"204": "No Content", "304": "Not Modified", "200": "OK"}
    start_response(f"{code} {reasons.get(code, 'X')}", [("Content-Length", "5"), ("ETag", '"v1"')])
    return [b"oops!"]


def refused_start(status_line, headers):
    def handler(environ, start_response):
        start_response(status_line, headers)
        return [b"should not be sent"]
    return handler


def short_cl(environ, start_response):
    # Promises 100 bytes, delivers 10.
    start_response("200 OK", [("Content-Length", "100")])
    return [b"0123456789"]


def long_cl(environ, start_response):
    # Promises 5 bytes, delivers 10 in two pieces.
    start_response("200 OK", [("Content-Length", "5")])
    return iter([b"01234", b"56789"])


def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


def failing_body(headers):
    def handler(environ, start_response):
        def gen():
            yield b"first part;"
            raise RuntimeError("application failed mid-body")
        start_response("200 OK", headers)
        return gen()
    return handler


def error_before_headers(environ, start_response):
    raise RuntimeError("application failed before start_response")


def app_close(environ, start_response):
    return _plain(start_response, b"ok", extra=[("Connection", "close")])


ROUTES = {
    "/read": read,
    "/respond-then-read": respond_then_read,
    "/ignore-body": ignore_body,
    "/fixed": fixed,
    "/stream": stream,
    "/head-body": head_body,
    "/head-stream": head_stream,
    # Each of these must be refused by the server (500), never sent.
    "/crlf-value": refused_start("200 OK", [("Content-Type", "text/plain"), ("X-Safe", "a\r\nX-Injected: yes")]),
    "/lf-value": refused_start("200 OK", [("X-Safe", "a\nX-Injected: yes")]),
    "/bad-name": refused_start("200 OK", [("X-Injected: yes\r\nX-Bad", "v")]),
    "/crlf-status": refused_start("200 OK\r\nX-Injected: yes", [("Content-Length", "18")]),
    "/bad-cl": refused_start("200 OK", [("Content-Length", "12abc")]),
    "/app-te": refused_start("200 OK", [("Transfer-Encoding", "chunked")]),
    "/short-cl": short_cl,
    "/long-cl": long_cl,
    "/empty": empty,
    "/error-after-headers": failing_body([("Content-Type", "text/plain")]),
    "/error-after-headers-cl": failing_body([("Content-Type", "text/plain"), ("Content-Length", "100")]),
    "/error-before-headers": error_before_headers,
    "/app-close": app_close,
}


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/status/"):
        return status(environ, start_response)
    return ROUTES.get(path, describe)(environ, start_response)
