"""Repeated request header fields. The protocols hand every field as
received (trellis_request_head: in order, repeats kept): the ASGI scope's
`headers` keeps them so, one pair per line; the WSGI environ still joins
them into one HTTP_* value (", ", Cookie "; "), over HTTP and over uwsgi.
Apps: apps/asgi_app.py (/scope), apps/nginx_app.py (/env)."""
import json
import socket
import struct

from conftest import APPS, free_port

ASGI_APP = str(APPS / "asgi_app.py")
WSGI_APP = str(APPS / "nginx_app.py")

REPEATS = (b"X-Multi: one\r\nCookie: a=1\r\nX-Multi: two\r\nx-multi: three\r\nCookie: b=2; c=3\r\n"
           b"Accept: */*\r\n")


def raw_http(port, head):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(head)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    status, _, body = data.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), data
    return body


def uwsgi(port, pairs, modifier1=0):
    """One uwsgi request whose vars are `pairs` (repeats allowed, in order)."""
    payload = b""
    for k, v in pairs:
        k, v = k.encode(), v.encode()
        payload += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    with socket.create_connection(("127.0.0.1", port), timeout=10) as c:
        c.sendall(struct.pack("<BHB", modifier1, len(payload), 0) + payload)
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data
    return body


def uwsgi_vars(path):
    # As nginx sends them: one HTTP_* var per request line, in order.
    return [("REQUEST_METHOD", "GET"), ("REQUEST_URI", path), ("PATH_INFO", path), ("QUERY_STRING", ""),
            ("SERVER_PROTOCOL", "HTTP/1.1"), ("SERVER_NAME", "example"), ("SERVER_PORT", "80"),
            ("REMOTE_ADDR", "10.0.0.1"), ("REMOTE_PORT", "5555"), ("HTTP_HOST", "example"),
            ("HTTP_X_MULTI", "one"), ("HTTP_COOKIE", "a=1"), ("HTTP_X_MULTI", "two"), ("HTTP_X_MULTI", "three"),
            ("HTTP_COOKIE", "b=2; c=3"), ("HTTP_ACCEPT", "*/*")]


WANT_ASGI = [["x-multi", "one"], ["cookie", "a=1"], ["x-multi", "two"], ["x-multi", "three"],
             ["cookie", "b=2; c=3"], ["accept", "*/*"]]


def test_asgi_headers_keep_repeats_in_order_over_http(server):
    s = server("--plugin", "asgi", "--plugin", "http", "--asgi-file", ASGI_APP, "--processes", "1")
    body = raw_http(s.port, b"GET /scope HTTP/1.1\r\nHost: example\r\n" + REPEATS + b"Connection: close\r\n\r\n")
    headers = json.loads(body)["headers"]
    assert headers == [["host", "example"]] + WANT_ASGI + [["connection", "close"]]


def test_asgi_headers_keep_repeats_in_order_over_uwsgi(server):
    port = free_port()
    server("--plugin", "asgi", "--plugin", "uwsgi", "--plugin", "http", "--socket", f"127.0.0.1:{port}",
           "--asgi-file", ASGI_APP, "--processes", "1")
    headers = json.loads(uwsgi(port, uwsgi_vars("/scope")))["headers"]
    assert headers == [["host", "example"]] + WANT_ASGI


def test_wsgi_still_joins_repeats_over_http(server):
    s = server("--plugin", "python", "--plugin", "http", "--wsgi-file", WSGI_APP, "--processes", "1")
    env = json.loads(raw_http(s.port, b"GET /env/x HTTP/1.1\r\nHost: example\r\n" + REPEATS +
                              b"Connection: close\r\n\r\n"))
    assert env["HTTP_X_MULTI"] == "one, two, three"
    assert env["HTTP_COOKIE"] == "a=1; b=2; c=3"
    assert env["HTTP_ACCEPT"] == "*/*"


def test_wsgi_still_joins_repeats_over_uwsgi(server):
    port = free_port()
    server("--plugin", "python", "--plugin", "uwsgi", "--plugin", "http", "--socket", f"127.0.0.1:{port}",
           "--wsgi-file", WSGI_APP, "--processes", "1")
    env = json.loads(uwsgi(port, uwsgi_vars("/env/x")))
    assert env["HTTP_X_MULTI"] == "one, two, three"
    assert env["HTTP_COOKIE"] == "a=1; b=2; c=3"
    assert env["HTTP_ACCEPT"] == "*/*"
    assert env["HTTP_HOST"] == "example"
