"""Reads the whole WSGI environ on every request (bench/environ_cost.sh sends
many headers): the per-request cost of building and reading a large environ."""


def application(environ, start_response):
    n = 0
    for key, value in environ.items():
        if isinstance(value, str):
            n += len(key) + len(value)
    body = str(n).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
