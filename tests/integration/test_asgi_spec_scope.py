"""ASGI black-box suite: the HTTP connection scope (asgiref "HTTP & WebSocket
ASGI Message Format", spec version 2.4, "HTTP Connection Scope").

Every test sends requests to an application that answers with the scope it
was called with (asgi_spec_support.ECHO_APP) and checks each key against the
specification: types (str vs bytes vs int), decoding, order, repeats.
"""
import http.client
import json

import pytest

from asgi_spec_support import ECHO_APP, asgi, dec, http_request_bytes  # noqa: F401
from wsgi_support import RawConnection


def echo(port, method="GET", target="/", headers=(), body=b"", version="HTTP/1.1"):
    """(scope, events, body, client (host, port)) of one request on a fresh connection."""
    with RawConnection(port) as c:
        me = c.sock.getsockname()
        hs = list(headers) + [("Connection", "close")]
        c.send(http_request_bytes(method, target, hs, body, version))
        r = c.read_response(head_request=method == "HEAD")
    assert r.status == 200, r.raw
    out = dec(r.json())
    return out["scope"], out["events"], out["body"], me


def test_the_fixed_keys_of_an_http_scope(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port)
    assert scope["type"] == "http"
    # asgi: {"version": "3.0", "spec_version": the HTTP spec version understood}
    assert scope["asgi"]["version"] == "3.0"
    assert isinstance(scope["asgi"].get("spec_version", "2.0"), str)
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["path"] == "/"
    assert scope["query_string"] == b""
    assert scope.get("root_path", "") == ""


def test_spec_version_is_at_least_2_4(asgi):
    """The runtime implements HTTP spec version 2.4 (send() on a closed
    connection raises OSError, test_asgi_spec_disconnect.py) and must say so;
    an older number would make applications expect less."""
    s = asgi(ECHO_APP)
    spec = echo(s.port)[0]["asgi"].get("spec_version", "2.0")
    assert tuple(int(x) for x in spec.split(".")) >= (2, 4), spec


def test_http_version_follows_the_request_line(asgi):
    s = asgi(ECHO_APP)
    assert echo(s.port, version="HTTP/1.0")[0]["http_version"] == "1.0"
    assert echo(s.port, version="HTTP/1.1")[0]["http_version"] == "1.1"


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_method_is_the_uppercase_method_name(asgi, method):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, method, "/m", body=b"x" if method in ("POST", "PUT", "PATCH") else b"")
    assert scope["method"] == method


def test_path_is_percent_decoded_utf8_and_raw_path_is_the_bytes_received(asgi):
    s = asgi(ECHO_APP)
    target = "/caf%C3%A9/a%20b/%E2%82%AC/x+y/%7Euser"
    scope, _, _, _ = echo(s.port, target=target + "?q=%C3%A9")
    assert scope["path"] == "/café/a b/€/x+y/~user"  # "+" is not a space in a path
    assert isinstance(scope["path"], str)
    # raw_path: the path exactly as received, without the query, as bytes.
    assert scope["raw_path"] == target.encode()


def test_an_encoded_slash_is_decoded_in_path_and_kept_in_raw_path(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, target="/a%2Fb/c")
    assert scope["path"] == "/a/b/c"
    assert scope["raw_path"] == b"/a%2Fb/c"


def test_query_string_is_the_raw_bytes_after_the_question_mark(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, target="/q?a=1&b=%20x+y&c=%E2%82%AC&d&e=&a=2")
    assert scope["query_string"] == b"a=1&b=%20x+y&c=%E2%82%AC&d&e=&a=2"
    assert scope["path"] == "/q"
    assert scope["raw_path"] == b"/q"
    # No "?" at all, and a "?" with nothing after it: both empty bytes.
    assert echo(s.port, target="/q")[0]["query_string"] == b""
    assert echo(s.port, target="/q?")[0]["query_string"] == b""


def test_headers_are_lowercased_byte_pairs_in_order_with_repeats(asgi):
    s = asgi(ECHO_APP)
    sent = [("X-Dup", "first"), ("Accept", "text/plain"), ("X-MiXeD-CaSe", "Value Keeps Its Case"),
            ("X-Dup", "second"), ("Cookie", "a=1; b=2"), ("X-Dup", "third"), ("X-Empty", "")]
    scope, _, _, _ = echo(s.port, headers=sent)
    headers = scope["headers"]
    for pair in headers:
        assert len(pair) == 2
        name, value = pair
        assert isinstance(name, bytes) and isinstance(value, bytes), pair
        assert name == name.lower(), pair
    names = [n for n, _ in headers]
    # Every header sent is there, lower-cased, its value unchanged.
    for n, v in sent:
        assert [n.lower().encode(), v.encode()] in headers or (n.lower().encode(), v.encode()) in headers, (n, headers)
    # Repeats are kept as separate pairs (not joined with commas), in the order sent.
    assert [v for n, v in headers if n == b"x-dup"] == [b"first", b"second", b"third"]
    assert b"host" in names
    # The order of the headers as a whole follows the request.
    ours = [n for n in names if n in (b"x-dup", b"accept", b"x-mixed-case", b"cookie", b"x-empty")]
    assert ours == [b"x-dup", b"accept", b"x-mixed-case", b"x-dup", b"cookie", b"x-dup", b"x-empty"]


def test_a_header_value_with_non_ascii_bytes_arrives_as_those_bytes(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, headers=[(b"X-Latin", b"caf\xe9 \xff")])
    assert [v for n, v in scope["headers"] if n == b"x-latin"] == [b"caf\xe9 \xff"]


def test_host_and_body_headers_appear_as_sent(asgi):
    s = asgi(ECHO_APP)
    scope, _, body, _ = echo(s.port, "POST", "/p", headers=[("Host", "Example.COM:8080"),
                                                           ("Content-Type", "application/x-thing")], body=b"12345")
    hs = [(bytes(n), bytes(v)) for n, v in scope["headers"]]
    assert (b"host", b"Example.COM:8080") in hs
    assert (b"content-type", b"application/x-thing") in hs
    assert (b"content-length", b"5") in hs
    assert body == b"12345"


def test_client_is_the_peer_address_and_port(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, me = echo(s.port)
    client = scope["client"]
    assert len(client) == 2
    assert isinstance(client[0], str) and isinstance(client[1], int)
    assert (client[0], client[1]) == (me[0], me[1])


def test_server_is_the_listening_address_and_port(asgi):
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port)
    server = scope["server"]
    assert len(server) == 2
    assert (server[0], server[1]) == ("127.0.0.1", s.port)
    assert isinstance(server[1], int)


def test_each_request_on_a_keepalive_connection_gets_its_own_scope(asgi):
    """"HTTP connections have a single-request connection scope": the
    application is called once per request, even on one connection."""
    s = asgi(ECHO_APP)
    with RawConnection(s.port) as c:
        me = c.sock.getsockname()
        c.send(http_request_bytes("GET", "/first?n=1", [("X-Req", "1")]))
        r1 = c.read_response()
        c.send(http_request_bytes("POST", "/second", [("X-Req", "2")], b"body-2"))
        r2 = c.read_response()
    one, two = dec(r1.json()), dec(r2.json())
    assert (one["scope"]["path"], one["scope"]["method"], one["scope"]["query_string"]) == ("/first", "GET", b"n=1")
    assert (two["scope"]["path"], two["scope"]["method"], two["scope"]["query_string"]) == ("/second", "POST", b"")
    assert [v for n, v in one["scope"]["headers"] if n == b"x-req"] == [b"1"]
    assert [v for n, v in two["scope"]["headers"] if n == b"x-req"] == [b"2"]
    assert two["body"] == b"body-2" and one["body"] == b""
    # The same connection: the same client port both times.
    assert one["scope"]["client"][1] == two["scope"]["client"][1] == me[1]


def test_a_scope_changed_by_the_application_does_not_leak_into_the_next_request(asgi):
    s = asgi(r'''
async def app(scope, receive, send):
    if await lifespan(scope, receive, send):
        return
    await read_body(receive)
    seen = {"path": scope["path"], "mark": scope.get("mark"),
            "headers": len(scope["headers"])}
    scope["mark"] = "set by an earlier request"
    scope["headers"].append((b"x-added", b"1")) if isinstance(scope["headers"], list) else None
    scope["path"] = "/changed"
    await respond_json(send, seen)
''')
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    seen = []
    for _ in range(3):
        conn.request("GET", "/same")
        r = conn.getresponse()
        assert r.status == 200
        seen.append(dec(json.loads(r.read())))
    conn.close()
    assert [x["path"] for x in seen] == ["/same"] * 3
    assert [x["mark"] for x in seen] == [None] * 3
    assert len({x["headers"] for x in seen}) == 1


def test_a_long_path_and_many_headers_arrive_whole(asgi):
    s = asgi(ECHO_APP)
    path = "/" + "/".join(f"segment{i:03d}" for i in range(300))
    headers = [(f"X-H-{i:03d}", f"v{i}" * 5) for i in range(80)]
    scope, _, _, _ = echo(s.port, target=path, headers=headers)
    assert scope["path"] == path
    got = {n: v for n, v in scope["headers"]}
    for n, v in headers:
        assert got[n.lower().encode()] == v.encode()


def test_the_scope_is_json_like_no_surprising_types(asgi):
    """Strings are str, byte strings bytes, ports int: the echo carries the
    types through enc(); anything else would come back as a __repr__."""
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, target="/t?x=1", headers=[("X-A", "b")])

    def walk(v, where):
        assert not (isinstance(v, dict) and "__repr__" in v and where != "state"
                    and not where.startswith("extensions")), (where, v)
        if isinstance(v, dict) and "__repr__" not in v:
            for k, x in v.items():
                walk(x, k if where == "" else where)
    walk(scope, "")
    for key, kind in (("type", str), ("http_version", str), ("method", str), ("scheme", str), ("path", str),
                      ("raw_path", bytes), ("query_string", bytes)):
        assert isinstance(scope[key], kind), (key, scope[key])
    assert isinstance(scope.get("root_path", ""), str)  # optional, "" when missing


def test_path_is_not_normalised(asgi):
    """path is the request target as sent, only decoded: no dot-segment
    removal, no merged slashes (that is the application's business)."""
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, target="/a/./b/../c//d/")
    assert scope["path"] == "/a/./b/../c//d/"
    assert scope["raw_path"] == b"/a/./b/../c//d/"


def test_an_absolute_form_target_gives_the_path_and_query(asgi):
    """RFC 9112 3.2.2: a server must accept the absolute form; the scope
    still has only the path and the query string."""
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, target="http://example.com/abs/p%20q?x=1")
    assert scope["path"] == "/abs/p q"
    assert scope["query_string"] == b"x=1"


def test_header_values_lose_surrounding_whitespace_only(asgi):
    """RFC 9110 5.5 / RFC 9112 5: a field value excludes the leading and
    trailing whitespace around it (inner whitespace is part of it)."""
    s = asgi(ECHO_APP)
    scope, _, _, _ = echo(s.port, headers=[("X-Pad", "   inner  spaces kept \t")])
    assert [v for n, v in scope["headers"] if n == b"x-pad"] == [b"inner  spaces kept"]
