"""ASGI black-box suite over the uwsgi protocol: a real nginx (Debian's, stock
/etc/nginx/uwsgi_params) with uwsgi_pass in front of
`trellis --plugin asgi --plugin uwsgi --socket ...`.

The scope is built from the CGI-style variables nginx sends instead of a
request line; the specification's rules are the same: path decoded, raw_path
and query_string as received, root_path from SCRIPT_NAME (and path still the
whole path: WSGI's PATH_INFO "can be derived from path and root_path"),
lower-cased header pairs in order with repeats, client and server as
[host, port]. Bodies and responses stream through nginx when its buffering
is off, and a client that leaves reaches the application as http.disconnect.

uvicorn has no uwsgi protocol: with ASGI_SPEC_SERVER=uvicorn this file is
skipped (it checks trellis only).
"""
import hashlib
import http.client
import json
import os
import socket

import pytest

from asgi_spec_support import UVICORN, AsgiServer, dec, http_request_bytes, recv_until, vanish
from nginx_support import nginx, require_nginx  # noqa: F401

pytestmark = pytest.mark.skipif(UVICORN, reason="the uwsgi protocol is trellis's; uvicorn speaks HTTP only")

APP = r'''
import hashlib

async def startup(scope):
    if "state" in scope:
        scope["state"]["from-startup"] = "yes"

async def app(scope, receive, send):
    if await lifespan(scope, receive, send, startup):
        return
    path = scope["path"]
    if path.endswith("/upload"):
        h, n, events = hashlib.sha256(), 0, 0
        while True:
            m = await receive()
            note("upload.log", size=len(m.get("body", b"")), more_body=m.get("more_body", False), type=m["type"])
            h.update(m.get("body", b""))
            n += len(m.get("body", b""))
            events += 1
            if not m.get("more_body", False):
                break
        await respond_json(send, {"length": n, "sha256": h.hexdigest(), "events": events})
    elif path.endswith("/gated"):
        await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"first|", "more_body": True})
        await wait_file("more")
        await send({"type": "http.response.body", "body": b"last"})
    elif path.endswith("/raise"):
        raise RuntimeError("boom behind nginx")
    elif path.endswith("/hold"):
        await read_body(receive)
        note("hold.log", state="waiting")
        m = await receive()
        note("hold.log", state="received", event=m)
    else:
        body, events = await read_body(receive)
        await respond_json(send, {"scope": scope, "events": events, "body": body})
'''

NO_BUFFERING = """
            uwsgi_buffering off;
            uwsgi_request_buffering off;"""


@pytest.fixture
def stack(tmp_path, nginx):
    """stack(location_extra="", **trellis_kw): trellis on a uwsgi socket,
    nginx in front; returns (trellis, nginx)."""
    require_nginx()
    started = []

    def make(location_extra="", **kw):
        t = AsgiServer(tmp_path, APP, transport="uwsgi", name=f"uwsgi_app{len(started)}", **kw)
        started.append(t)
        ng = nginx(f"127.0.0.1:{t.port}", location_extra=location_extra)
        return t, ng

    yield make
    for t in started:
        t.stop(check=False)
        t.kill()


def request(port, method="GET", target="/", headers=(), body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.connect()
        me = conn.sock.getsockname()
        conn.putrequest(method, target, skip_accept_encoding=True)
        for n, v in headers:
            conn.putheader(n, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read(), me
    finally:
        conn.close()


def test_the_scope_built_from_nginx_variables(stack):
    t, ng = stack()
    status, _, body, me = request(ng.port, "GET", "/a%20b/caf%C3%A9?x=1&y=%C3%A9",
                                  headers=[("X-Dup", "one"), ("X-MiXeD", "Case Kept"), ("X-Dup", "two")])
    assert status == 200, body
    scope = dec(json.loads(body))["scope"]
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/a b/café"
    assert scope["raw_path"] == b"/a%20b/caf%C3%A9"
    assert scope["query_string"] == b"x=1&y=%C3%A9"
    assert scope.get("root_path", "") == ""
    for name, value in scope["headers"]:
        assert isinstance(name, bytes) and isinstance(value, bytes) and name == name.lower()
    assert [v for n, v in scope["headers"] if n == b"x-dup"] == [b"one", b"two"]
    assert [v for n, v in scope["headers"] if n == b"x-mixed"] == [b"Case Kept"]
    assert b"host" in [n for n, _ in scope["headers"]]
    # the client is nginx's client (REMOTE_ADDR, REMOTE_PORT), not nginx
    assert (scope["client"][0], scope["client"][1]) == ("127.0.0.1", me[1])
    assert isinstance(scope["server"][0], str) and isinstance(scope["server"][1], int)
    assert scope["server"][1] in (ng.port, t.port)


def test_root_path_comes_from_script_name(stack):
    t, ng = stack("            uwsgi_param SCRIPT_NAME /mnt;")
    status, _, body, _ = request(ng.port, "GET", "/mnt/inner/x?q=1")
    assert status == 200, body
    scope = dec(json.loads(body))["scope"]
    assert scope["root_path"] == "/mnt"
    assert scope["path"] == "/mnt/inner/x"
    assert scope["query_string"] == b"q=1"


def test_http10_through_nginx(stack):
    t, ng = stack()
    with socket.create_connection(("127.0.0.1", ng.port), timeout=10) as c:
        c.sendall(b"GET /v10 HTTP/1.0\r\nHost: t\r\n\r\n")
        data = recv_until(c, b"\x00never")
    head, body = data.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") or head.startswith(b"HTTP/1.0 200"), head
    assert dec(json.loads(body))["scope"]["http_version"] == "1.0"


def test_a_large_post_arrives_whole(stack):
    t, ng = stack()
    body = os.urandom(3 * 1024 * 1024 + 7)
    status, _, out, _ = request(ng.port, "POST", "/upload", body=body)
    assert status == 200, out
    out = json.loads(out)
    assert (out["length"], out["sha256"]) == (len(body), hashlib.sha256(body).hexdigest())


def test_an_unbuffered_upload_is_delivered_as_it_arrives(stack):
    t, ng = stack(NO_BUFFERING)
    with socket.create_connection(("127.0.0.1", ng.port), timeout=20) as c:
        c.sendall(b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 20000\r\nConnection: close\r\n\r\n")
        c.sendall(b"a" * 10000)
        notes = t.wait_notes("upload.log", lambda ns: sum(n["size"] for n in ns) == 10000)
        assert sum(n["size"] for n in notes) == 10000 and all(n["more_body"] for n in notes), notes
        c.sendall(b"b" * 10000)
        data = recv_until(c, b"}")
    out = json.loads(data.split(b"\r\n\r\n", 1)[1])
    assert out["length"] == 20000 and out["events"] >= 2


def test_a_streamed_response_is_flushed_through_nginx(stack):
    t, ng = stack(NO_BUFFERING)
    with socket.create_connection(("127.0.0.1", ng.port), timeout=20) as c:
        c.sendall(http_request_bytes("GET", "/gated", [("Connection", "close")]))
        got = recv_until(c, b"first|")
        assert b"first|" in got and b"last" not in got, got
        t.open_gate("more")
        got += recv_until(c, b"0\r\n\r\n")
    assert got.startswith(b"HTTP/1.1 200")
    assert b"last" in got


def test_an_exception_before_the_response_is_a_500_not_a_502(stack):
    t, ng = stack()
    status, _, _, _ = request(ng.port, "GET", "/raise")
    assert status == 500
    assert t.wait_log("boom behind nginx"), t.log()
    assert request(ng.port, "GET", "/ok")[0] == 200


def test_head_through_nginx_has_no_body(stack):
    t, ng = stack()
    with socket.create_connection(("127.0.0.1", ng.port), timeout=10) as c:
        c.sendall(http_request_bytes("HEAD", "/h") + http_request_bytes("GET", "/after-head", [("Connection", "close")]))
        data = recv_until(c, b"\x00never")
    first, rest = data.split(b"\r\n\r\n", 1)
    assert first.startswith(b"HTTP/1.1 200")
    assert rest.startswith(b"HTTP/1.1 200"), rest[:100]


@pytest.mark.xfail(strict=True, reason=(
    "open (issue 15): when the client leaves, nginx closes its uwsgi connection with a FIN, which trellis "
    "cannot tell from a client's half-close without writing; it keeps serving half-closed uwsgi clients as "
    "uWSGI does (test_resource_blackbox relies on it), so an app waiting in receive() learns of the "
    "disconnect only when it next sends"))
def test_a_client_leaving_nginx_reaches_the_application_as_disconnect(stack):
    t, ng = stack()
    c = socket.create_connection(("127.0.0.1", ng.port), timeout=10)
    c.sendall(http_request_bytes("GET", "/hold"))
    assert t.wait_notes("hold.log")
    vanish(c)
    notes = t.wait_notes("hold.log", lambda ns: any(n["state"] == "received" for n in ns), timeout=15)
    received = [n["event"] for n in notes if n["state"] == "received"]
    assert received == [{"type": "http.disconnect"}], notes


def test_lifespan_and_state_over_uwsgi(stack):
    t, ng = stack()
    assert [n["event"] for n in t.notes("lifespan.log")][:2] == ["scope", "lifespan.startup"]
    status, _, body, _ = request(ng.port, "GET", "/s")
    assert status == 200
    scope = dec(json.loads(body))["scope"]
    assert scope["state"] == {"from-startup": "yes"}
    assert t.stop() == 0
    assert [n["event"] for n in t.notes("lifespan.log")][-2:] == ["lifespan.shutdown", "shutdown.complete sent"]
