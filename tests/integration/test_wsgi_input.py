"""wsgi.input over real HTTP: Content-Length, chunked, big, empty bodies."""
import hashlib
import os
import subprocess
import time

import pytest
import requests

from wsgi_support import RawConnection, app_args, raw_request, start_module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_module_server(tmp_path_factory, *app_args("--processes", "2"))
    yield s
    s.stop()


def lines_body(n=2000):
    # Lines of varying length, some longer than any small internal buffer.
    return b"".join((b"line %d " % i) + b"x" * (i * 37 % 20000) + b"\n" for i in range(n)) + b"no newline at end"


def post(srv, mode, body, **params):
    params["mode"] = mode
    r = requests.post(srv.url + "/input", params=params, data=body, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("mode", ["read", "readn", "readline", "readline_limit", "readlines", "iter", "cl"])
def test_content_length_body_all_read_styles(srv, mode):
    body = lines_body(300)
    out = post(srv, mode, body)
    assert out["len"] == len(body)
    assert out["sha256"] == hashlib.sha256(body).hexdigest()
    assert out["content_length"] == str(len(body))
    assert out["after_eof"] == 0
    if mode in ("readline", "readlines", "iter"):
        assert out["pieces"] == body.count(b"\n") + 1
    if mode == "readline_limit":
        assert max(out["piece_lens"]) <= 5


def test_read_n_never_returns_more_than_n(srv):
    body = os.urandom(100_003)
    out = post(srv, "readn", body, n="4096")
    assert out["len"] == len(body) and out["sha256"] == hashlib.sha256(body).hexdigest()
    # read(n) on a blocking stream fills n unless at the end.
    assert out["piece_lens"][:-1] == [4096] * (len(out["piece_lens"]) - 1)


def test_five_mib_body(srv):
    body = os.urandom(5 * 1024 * 1024)
    for mode in ("read", "readn"):
        out = post(srv, mode, body, n="65536")
        assert out["len"] == len(body)
        assert out["sha256"] == hashlib.sha256(body).hexdigest()


def test_empty_post_body(srv):
    r = raw_request(srv.port, "POST", "/input?mode=read", headers={"Content-Length": "0"})
    assert r.status == 200
    out = r.json()
    assert out["len"] == 0 and out["content_length"] == "0" and out["after_eof"] == 0


def test_get_without_body_reads_empty(srv):
    r = raw_request(srv.port, "GET", "/input?mode=iter")
    out = r.json()
    assert out["len"] == 0 and out["content_length"] is None and out["pieces"] == 0


def chunked(parts):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


@pytest.mark.parametrize("mode", ["read", "readn", "readline", "iter"])
def test_chunked_request_body(srv, mode):
    parts = [b"hello ", b"chunked\nworld\n", os.urandom(70000), b"tail"]
    body = b"".join(parts)
    with RawConnection(srv.port) as c:
        c.send(f"POST /input?mode={mode}&n=1000 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               "Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n".encode())
        # Send the chunks in pieces with pauses: the server must not mistake
        # a pause for the end of the body.
        wire = chunked(parts)
        for i in range(0, len(wire), 16384):
            c.send(wire[i:i + 16384])
            time.sleep(0.01)
        r = c.read_response()
    assert r.status == 200, r.body
    out = r.json()
    assert out["len"] == len(body)
    assert out["sha256"] == hashlib.sha256(body).hexdigest()
    assert out["content_length"] in (None, "")  # no length was announced
    assert out["input_terminated"] is True
    assert out["after_eof"] == 0


def test_chunked_body_with_extensions_and_trailers(srv):
    wire = b"5;ext=1\r\nabcde\r\n3\r\nfgh\r\n0\r\nX-Trailer: t\r\n\r\n"
    with RawConnection(srv.port) as c:
        c.send(b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
               + wire)
        r = c.read_response()
    assert r.status == 200
    assert r.json()["head"] == "abcdefgh"


def test_chunked_body_then_next_request_on_same_connection(srv):
    with RawConnection(srv.port) as c:
        c.send(b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
               + chunked([b"first", b"-body"]))
        r1 = c.read_response()
        c.send(b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nsecond")
        r2 = c.read_response()
    assert r1.json()["head"] == "first-body"
    assert r2.json()["head"] == "second"


def test_unread_body_does_not_desync_keepalive(srv):
    """The app ignores the body; the next request on the connection must
    still be parsed correctly (the server discards or closes, never mixes)."""
    with RawConnection(srv.port) as c:
        c.send(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nGET /evil H")
        r1 = c.read_response()
        assert r1.status == 200 and r1.body == b"Hello from wsgi_app"
        try:
            c.send(b"GET /env/second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            r2 = c.read_response()
        except (EOFError, BrokenPipeError, ConnectionResetError):
            return  # closing the connection is a correct choice too
    assert r2.status == 200
    assert r2.json()["PATH_INFO"][1] == "/env/second"


def test_expect_100_continue_with_curl(srv, tmp_path):
    """curl sends Expect: 100-continue for big uploads and waits for it."""
    data = os.urandom(2 * 1024 * 1024)
    f = tmp_path / "upload.bin"
    f.write_bytes(data)
    t0 = time.monotonic()
    out = subprocess.run(["curl", "-sS", "--max-time", "20", "-H", "Expect: 100-continue",
                          "--data-binary", f"@{f}", "-H", "Content-Type: application/octet-stream",
                          f"{srv.url}/input?mode=readn&n=65536"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    import json
    res = json.loads(out.stdout)
    assert res["len"] == len(data)
    assert res["sha256"] == hashlib.sha256(data).hexdigest()
    # curl waits at most 1 s for the 100 before sending anyway; a server that
    # answers it promptly makes the whole upload fast.
    assert time.monotonic() - t0 < 5


def test_truncated_body_is_an_error_not_a_short_read(srv):
    """Client announces 1000 bytes, sends 10 and half-closes: the app must not
    be handed a silently short body as if complete (an OSError is fine)."""
    with RawConnection(srv.port) as c:
        c.send(b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n0123456789")
        c.sock.shutdown(1)
        try:
            r = c.read_response()
        except EOFError:
            return  # closed without a reply: acceptable
    assert r.status != 200 or r.json()["len"] != 10


def test_five_mib_chunked_body(srv):
    """Past post-buffering (1 MiB) a chunked body is spooled; it must come
    back whole and in order."""
    data = os.urandom(5 * 1024 * 1024)
    parts = [data[i:i + 100_000] for i in range(0, len(data), 100_000)]
    with RawConnection(srv.port, timeout=30) as c:
        c.send(b"POST /input?mode=readn&n=65536 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Connection: close\r\n\r\n")
        c.send(chunked(parts))
        r = c.read_response()
    assert r.status == 200, r.body[:300]
    out = r.json()
    assert out["len"] == len(data)
    assert out["sha256"] == hashlib.sha256(data).hexdigest()


def test_chunked_body_with_requests_generator(srv):
    """requests sends a generator body with Transfer-Encoding: chunked."""
    payload = [b"alpha\n", b"beta\n", b"", b"gamma"]  # an empty item must not end the body early
    r = requests.post(srv.url + "/input", params={"mode": "readline"}, data=iter([p for p in payload if p]),
                      timeout=10)
    out = r.json()
    assert out["content_length"] is None  # requests chose chunked framing
    assert out["len"] == len(b"".join(payload)) and out["pieces"] == 3


def expected_ops(body, ops):
    import io
    import sys
    sys.path.insert(0, str(__import__("conftest").APPS))
    from wsgi_app import run_ops
    return run_ops(io.BytesIO(body), ops)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("framing", ["length", "chunked", "expect-length", "expect-chunked"])
def test_mixed_read_calls_behave_like_a_file(srv, seed, framing):
    """Random interleavings of read(n), read(), readline(n), readline(),
    readlines() and iteration give exactly what a file over the same bytes
    gives (readline's lookahead must never lose or reorder bytes)."""
    import random
    rnd = random.Random(seed)
    body = b"".join(rnd.choice([b"\n", b"", b"ab", b"x" * rnd.randint(1, 20000), os.urandom(rnd.randint(0, 300))])
                    for _ in range(rnd.randint(5, 60)))
    ops = []
    for _ in range(rnd.randint(3, 25)):
        kind = rnd.choice(["r:", "l:", "l", "it", "r:"])
        if kind.endswith(":"):
            kind += str(rnd.choice([0, 1, 2, 7, 100, 8191, 8192, 8193, 30000]))
        ops.append(kind)
    ops.append(rnd.choice(["r", "ls"]))
    ops.append("r")
    ops = ",".join(ops)
    if framing.startswith("expect"):
        # 100-continue: the body is read from the socket while the app reads.
        if framing == "expect-length":
            head, wire = f"Content-Length: {len(body)}", body
        else:
            head, wire = "Transfer-Encoding: chunked", chunked([body[i:i + 5000] for i in range(0, len(body), 5000)])
        with RawConnection(srv.port) as c:
            c.send(f"POST /input?mode=ops&ops={ops} HTTP/1.1\r\nHost: x\r\n{head}\r\n"
                   "Expect: 100-continue\r\nConnection: close\r\n\r\n".encode())
            if body:
                interim = c.read_response()
                assert interim.status == 100
                for i in range(0, len(wire), 7000):
                    c.send(wire[i:i + 7000])
            elif framing == "expect-chunked":
                interim = c.read_response()
                assert interim.status == 100
                c.send(wire)
            r = c.read_response()
    elif framing == "length":
        r = raw_request(srv.port, "POST", f"/input?mode=ops&ops={ops}", body=body)
    else:
        parts = [body[i:i + 5000] for i in range(0, len(body), 5000)]
        r = raw_request(srv.port, "POST", f"/input?mode=ops&ops={ops}", headers={"Transfer-Encoding": "chunked"},
                        body=chunked(parts))
    assert r.status == 200, r.body[:500]
    assert r.json() == expected_ops(body, ops), ops


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    s = start_module_server(tmp_path_factory, *app_args("--limit-post", "1000"))
    yield s
    s.stop()


def send_body(srv, head_fields, wire, expect):
    with RawConnection(srv.port) as c:
        c.send(b"POST /input?mode=read HTTP/1.1\r\nHost: x\r\n" + head_fields
               + (b"Expect: 100-continue\r\n" if expect else b"") + b"Connection: close\r\n\r\n")
        if expect:
            interim = c.read_response()
            if interim.status != 100:
                return interim
        c.send(wire)
        return c.read_response()


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100"])
def test_limit_post_announced_length_is_413(limited, expect):
    r = send_body(limited, b"Content-Length: 2000\r\n", b"x" * 2000, expect)
    assert r.status == 413


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100"])
def test_limit_post_chunked_body_is_413(limited, expect):
    """RFC 9110 15.5.14: a body over --limit-post is 413 Content Too Large.
    Without Expect the HTTP plugin refuses it before the app runs; with
    Expect: 100-continue (curl's default for big and chunked uploads) the body
    is read while the app runs, and the same body must still get a 413, not
    a 500 blamed on the application."""
    r = send_body(limited, b"Transfer-Encoding: chunked\r\n", chunked([b"a" * 600, b"b" * 600]), expect)
    assert r.status == 413, r.status_line


@pytest.mark.parametrize("expect", [False, True], ids=["plain", "expect-100"])
def test_malformed_chunked_body_is_400(limited, expect):
    r = send_body(limited, b"Transfer-Encoding: chunked\r\n", b"5\r\nabcde\r\nZZ\r\nxx\r\n0\r\n\r\n", expect)
    assert r.status == 400, r.status_line


def test_limit_post_allows_bodies_up_to_the_limit(limited):
    body = os.urandom(1000)
    r = raw_request(limited.port, "POST", "/input?mode=read", body=body)
    assert r.status == 200 and r.json()["sha256"] == hashlib.sha256(body).hexdigest()
