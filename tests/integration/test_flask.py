"""A real Flask 2.2 application served by trellis, driven by real clients."""
import hashlib
import os
import subprocess

import pytest
import requests

from conftest import APPS
from wsgi_support import RawConnection, app_args, start_module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_module_server(tmp_path_factory, *app_args("--processes", "2", "--threads", "2",
                                                        "--callable", "app", app=APPS / "flask_app.py"))
    yield s
    s.stop()


def test_index(srv):
    r = requests.get(srv.url + "/", timeout=10)
    assert r.status_code == 200 and r.text == "flask index"
    assert r.headers["Content-Type"].startswith("text/html")


def test_form_post(srv):
    r = requests.post(srv.url + "/form", data=[("name", "Zoë & co"), ("tag", "a"), ("tag", "b c")], timeout=10)
    assert r.status_code == 200
    assert r.json() == {"name": "Zoë & co", "tags": ["a", "b c"],
                        "content_type": "application/x-www-form-urlencoded"}


def test_multipart_upload(srv):
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = requests.post(srv.url + "/upload", files={"file": ("blob.bin", data, "application/x-test")},
                      data={"note": "hello"}, timeout=30)
    assert r.status_code == 200, r.text
    j = r.json()
    assert j["sha256"] == hashlib.sha256(data).hexdigest()
    assert j["size"] == len(data)
    assert j["filename"] == "blob.bin" and j["mimetype"] == "application/x-test" and j["note"] == "hello"


def test_multipart_upload_with_curl(srv, tmp_path):
    data = os.urandom(1024 * 1024)
    f = tmp_path / "up.dat"
    f.write_bytes(data)
    res = subprocess.run(["curl", "-sS", "--max-time", "20", "-F", f"file=@{f};type=application/x-curl",
                          "-F", "note=via curl", srv.url + "/upload"], capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr
    import json
    j = json.loads(res.stdout)
    assert j["sha256"] == hashlib.sha256(data).hexdigest() and j["note"] == "via curl"


def test_stream_with_context(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /stream?n=6&who=bob HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = c.read_response()
    assert r.status == 200
    assert r.header("transfer-encoding") == "chunked"
    assert r.complete
    assert r.body.decode() == "".join(f"/stream:bob:{i}\n" for i in range(6))


def test_stream_with_requests_iter(srv):
    r = requests.get(srv.url + "/stream?n=50&who=it", stream=True, timeout=10)
    lines = [line.decode() for line in r.iter_lines()]
    assert lines == [f"/stream:it:{i}" for i in range(50)]


def test_cookies_and_signed_session(srv):
    s = requests.Session()
    r = s.get(srv.url + "/cookie/set?v=abc123", timeout=10)
    assert r.status_code == 200
    assert s.cookies.get("plain") == "abc123"
    assert "HttpOnly" in r.headers["Set-Cookie"]
    assert s.get(srv.url + "/cookie/get", timeout=10).json()["plain"] == "abc123"
    counts = [s.get(srv.url + "/session/incr", timeout=10).json()["count"] for _ in range(5)]
    assert counts == [1, 2, 3, 4, 5]
    # Both cookies travel together now.
    assert s.get(srv.url + "/cookie/get", timeout=10).json()["all"] == ["plain", "session"]
    # A tampered session cookie is ignored (the signature is checked).
    jar = requests.Session()
    bad = s.cookies.get("session")
    jar.cookies.set("session", bad[:-3] + ("AAA" if not bad.endswith("AAA") else "BBB"))
    assert jar.get(srv.url + "/session/incr", timeout=10).json()["count"] == 1
    # A fresh client starts from zero.
    assert requests.get(srv.url + "/session/incr", timeout=10).json()["count"] == 1


def test_json_api(srv):
    r = requests.post(srv.url + "/api/items", json={"name": "widget", "qty": 3, "nested": {"ü": [1, 2]}},
                      timeout=10)
    assert r.status_code == 201
    assert r.json() == {"id": 42, "name": "widget", "qty": 3, "echo": {"name": "widget", "qty": 3,
                                                                       "nested": {"ü": [1, 2]}}}
    assert r.headers["Content-Type"] == "application/json"
    r = requests.post(srv.url + "/api/items", json={"qty": 1}, timeout=10)
    assert r.status_code == 400 and r.json() == {"error": "name required"}
    assert requests.get(srv.url + "/api/items/42", timeout=10).json() == {"id": 42, "name": "widget"}


def test_404_handling(srv):
    r = requests.get(srv.url + "/api/items/7", timeout=10)
    assert r.status_code == 404 and r.json() == {"error": "not found", "path": "/api/items/7"}
    r = requests.get(srv.url + "/no/such/page", timeout=10)
    assert r.status_code == 404 and r.json()["path"] == "/no/such/page"


def test_redirect(srv):
    r = requests.get(srv.url + "/old", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"] in ("/new?q=1", f"{srv.url}/new?q=1")
    r = requests.get(srv.url + "/old", timeout=10)
    assert r.status_code == 200 and r.text == "new page q=1"
    assert [h.status_code for h in r.history] == [302]


def test_method_not_allowed(srv):
    r = requests.get(srv.url + "/form", timeout=10)
    assert r.status_code == 405
    assert "POST" in r.headers["Allow"]


def test_view_exception_is_500_and_logged(srv):
    r = requests.get(srv.url + "/boom", timeout=10)
    assert r.status_code == 500
    assert srv.wait_log("flask-view-exception-marker")
    assert requests.get(srv.url + "/", timeout=10).status_code == 200


def test_request_url_reconstruction(srv):
    r = requests.get(srv.url + "/url?x=%20y", timeout=10).json()
    assert r["url"] == f"{srv.url}/url?x=%20y"
    assert r["host"] == f"127.0.0.1:{srv.port}"
    assert r["scheme"] == "http" and r["path"] == "/url" and r["remote_addr"] == "127.0.0.1"
    assert r["url_root"] == srv.url + "/"


def test_head_request(srv):
    r = requests.head(srv.url + "/", timeout=10)
    assert r.status_code == 200 and r.content == b""
    assert r.headers["Content-Length"] == str(len("flask index"))


@pytest.fixture(scope="module")
def blob(srv):
    data = os.urandom(3 * 1024 * 1024 + 123)
    (srv.state_dir / "blob.bin").write_bytes(data)
    return data


def test_send_file(srv, blob):
    r = requests.get(srv.url + "/download/blob.bin", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(blob))
    assert r.content == blob


@pytest.mark.parametrize("rng", [(0, 99), (1000, 1_500_000), (3 * 1024 * 1024, None)])
def test_send_file_range(srv, blob, rng):
    start, end = rng
    header = f"bytes={start}-{'' if end is None else end}"
    r = requests.get(srv.url + "/download/blob.bin", headers={"Range": header}, timeout=30)
    assert r.status_code == 206, r.status_code
    want = blob[start:] if end is None else blob[start:end + 1]
    assert r.headers["Content-Length"] == str(len(want))
    assert r.content == want


def test_send_file_conditional_304(srv, blob):
    r = requests.get(srv.url + "/download/blob.bin", timeout=30)
    etag = r.headers["ETag"]
    with RawConnection(srv.port) as c:
        c.send(f"GET /download/blob.bin HTTP/1.1\r\nHost: x\r\nIf-None-Match: {etag}\r\n\r\n".encode())
        r = c.read_response()
        assert r.status == 304
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r2 = c.read_response()
    assert r2.status == 200 and r2.body == b"flask index"


def test_send_file_head(srv, blob):
    with RawConnection(srv.port) as c:
        c.send(b"HEAD /download/blob.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        r = c.read_response(head_request=True)
        assert r.status == 200 and r.header("content-length") == str(len(blob))
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.read_response().body == b"flask index"


def test_chunked_json_post_uses_input_terminated(srv):
    """Werkzeug reads a body without Content-Length only because the server
    sets wsgi.input_terminated: a chunked JSON POST must reach the view."""
    import json
    payload = json.dumps({"name": "chunky", "qty": 7}).encode()
    wire = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:5], payload[5:])) + b"0\r\n\r\n"
    with RawConnection(srv.port) as c:
        c.send(b"POST /api/items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + wire)
        r = c.read_response()
    assert r.status == 201, r.body
    assert r.json()["name"] == "chunky" and r.json()["qty"] == 7


def test_chunked_multipart_upload(srv):
    data = os.urandom(300_000)
    req = requests.Request("POST", srv.url + "/upload", files={"file": ("c.bin", data)}).prepare()
    body = req.body
    r = requests.post(srv.url + "/upload", data=(body[i:i + 50_000] for i in range(0, len(body), 50_000)),
                      headers={"Content-Type": req.headers["Content-Type"]}, timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["sha256"] == hashlib.sha256(data).hexdigest()
