"""--static-map URL=DIR: files answered before the application, as uWSGI."""
import hashlib
import http.client
import socket

from conftest import TEST_PLUGIN_DIR, http_get

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]


def request(port, method, path, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def test_static_files_are_served_and_the_rest_reaches_the_app(server, tmp_path):
    root = tmp_path / "static"
    (root / "css").mkdir(parents=True)
    (root / "css" / "site.css").write_text("body { color: red }\n")
    big = bytes(range(256)) * 8192  # 2 MiB
    (root / "big.bin").write_bytes(big)
    (tmp_path / "secret.txt").write_text("not for you")
    s = server(*BASE, "--static-map", f"/static={root}")

    status, headers, body = request(s.port, "GET", "/static/css/site.css")
    assert status == 200 and body == b"body { color: red }\n"
    assert headers["Content-Type"].startswith("text/css")
    assert headers["Content-Length"] == str(len(body))

    status, headers, body = request(s.port, "GET", "/static/big.bin")
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(big).digest()

    status, headers, body = request(s.port, "HEAD", "/static/big.bin")
    assert status == 200 and body == b"" and headers["Content-Length"] == str(len(big))

    modified = headers["Last-Modified"]
    status, _, body = request(s.port, "GET", "/static/big.bin", {"If-Modified-Since": modified})
    assert status == 304 and body == b""

    # Not a file, or outside the directory: the application answers.
    assert http_get(s.port, "/static/missing.txt") == (200, b"Hello World!")
    assert http_get(s.port, "/static/css") == (200, b"Hello World!")
    assert http_get(s.port, "/") == (200, b"Hello World!")
    with socket.create_connection(("127.0.0.1", s.port), timeout=10) as c:
        c.sendall(b"GET /static/../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    assert b"not for you" not in data
    # A POST is the application's.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("POST", "/static/css/site.css", body=b"x")
    assert conn.getresponse().read() == b"Hello World!"
