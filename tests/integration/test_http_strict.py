"""HTTP/1.1 plugin, strict parsing (RFC 9110 / RFC 9112 and the plugin's
README): every malformed or ambiguous request gets the right status AND the
connection closes, and bytes after it are never taken as another request
(a second request rides in the same packet; it must not be answered)."""
import pytest

from http_support import PYAPP, TESTAPP, Client, module_server  # noqa: F401

# Sent right behind every bad request: if the server answers it, the bad
# request's framing desynchronised the connection.
SMUGGLED = b"GET /bytes/9 HTTP/1.1\r\nHost: smuggled\r\n\r\n"


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(*TESTAPP, "--processes", "1", "--buffer-size", "4096")


@pytest.fixture(scope="module")
def pysrv(module_server):
    return module_server(*PYAPP, "--processes", "1")


def refused(port, data, status, timeout=5):
    """Sends data + SMUGGLED; asserts one `status` reply, then EOF."""
    with Client(port, timeout=timeout) as c:
        try:
            c.send(data + SMUGGLED)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and stop reading before we finish
        r = c.read_response()
        assert r.status == status, f"sent {data[:300]!r}: got {r.status}, expected {status}\n{r!r}"
        assert "close" in r.connection_tokens(), r
        rest = c.read_until_close(timeout=timeout)
        assert b"HTTP/1.1" not in rest and b"xxxxxxxxx" not in rest, f"a second response followed: {rest!r}"
        return r


H = b"Host: x\r\n"

CASES_400 = {
    # request line
    "no-version": b"GET /\r\n\r\n",
    "http09": b"GET /\r\n",
    "double-space": b"GET  / HTTP/1.1\r\n" + H + b"\r\n",
    "trailing-garbage": b"GET / HTTP/1.1 x\r\n" + H + b"\r\n",
    "lowercase-version": b"GET / http/1.1\r\n" + H + b"\r\n",
    "version-two-digits": b"GET / HTTP/1.10\r\n" + H + b"\r\n",
    "version-no-minor": b"GET / HTTP/1\r\n" + H + b"\r\n",
    "leading-space": b" GET / HTTP/1.1\r\n" + H + b"\r\n",
    "trailing-space": b"GET / HTTP/1.1 \r\n" + H + b"\r\n",
    "two-spaces-before-version": b"GET /  HTTP/1.1\r\n" + H + b"\r\n",
    "tab-separator": b"GET\t/ HTTP/1.1\r\n" + H + b"\r\n",
    "method-paren": b"G(T / HTTP/1.1\r\n" + H + b"\r\n",
    "method-ctl": b"GE\x01T / HTTP/1.1\r\n" + H + b"\r\n",
    "method-nonascii": b"G\xc3\xa9T / HTTP/1.1\r\n" + H + b"\r\n",
    "tls-hello": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "target-space-inside": b"GET /a b HTTP/1.1\r\n" + H + b"\r\n",
    "target-ctl": b"GET /a\x01b HTTP/1.1\r\n" + H + b"\r\n",
    "target-nul": b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n",
    "target-del": b"GET /a\x7fb HTTP/1.1\r\n" + H + b"\r\n",
    "target-fragment": b"GET /a#frag HTTP/1.1\r\n" + H + b"\r\n",
    "target-bad-escape": b"GET /a%zz HTTP/1.1\r\n" + H + b"\r\n",
    "target-nul-escape": b"GET /a%00b HTTP/1.1\r\n" + H + b"\r\n",
    "target-relative": b"GET a/b HTTP/1.1\r\n" + H + b"\r\n",
    "asterisk-not-options": b"GET * HTTP/1.1\r\n" + H + b"\r\n",
    "absolute-userinfo": b"GET http://user@example.com/ HTTP/1.1\r\n" + H + b"\r\n",
    "absolute-ftp": b"GET ftp://example.com/ HTTP/1.1\r\n" + H + b"\r\n",
    # line endings
    "bare-lf-request-line": b"GET / HTTP/1.1\n" + H + b"\r\n",
    "bare-lf-field": b"GET / HTTP/1.1\r\nHost: x\n\r\n",
    "bare-cr-field-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n",
    "bare-cr-request-line": b"GET /\r HTTP/1.1\r\n" + H + b"\r\n",
    "leading-lf": b"\nGET / HTTP/1.1\r\n" + H + b"\r\n",
    # field syntax
    "space-before-colon": b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
    "tab-before-colon": b"GET / HTTP/1.1\r\n" + H + b"X-A\t: 1\r\n\r\n",
    "obs-fold": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n b\r\n\r\n",
    "obs-fold-tab": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\r\n\tb\r\n\r\n",
    "whitespace-before-first-field": b"GET / HTTP/1.1\r\n " + H + b"\r\n",
    "no-colon": b"GET / HTTP/1.1\r\n" + H + b"X-A 1\r\n\r\n",
    "empty-name": b"GET / HTTP/1.1\r\n" + H + b": 1\r\n\r\n",
    "name-nonascii": b"GET / HTTP/1.1\r\n" + H + b"X-\xc3\xa9: 1\r\n\r\n",
    "name-bracket": b"GET / HTTP/1.1\r\n" + H + b"X[A]: 1\r\n\r\n",
    "nul-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x00b\r\n\r\n",
    "ctl-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n",
    "esc-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x1bb\r\n\r\n",
    "del-in-value": b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x7fb\r\n\r\n",
    # Host
    "missing-host": b"GET / HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
    "two-identical-hosts": b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
    "host-with-space": b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    "host-with-slash": b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
    "host-userinfo": b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
    "host-bad-port": b"GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n",
    # Content-Length
    "cl-letters": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n",
    "cl-plus": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: +5\r\n\r\nhello",
    "cl-minus": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: -1\r\n\r\n",
    "cl-hex": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 0x5\r\n\r\nhello",
    "cl-empty": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length:\r\n\r\n",
    "cl-space-inside": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 1 0\r\n\r\n0123456789",
    "cl-decimal-point": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5.0\r\n\r\nhello",
    "cl-overflow": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 99999999999999999999999\r\n\r\n",
    "cl-uint64-wrap": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 18446744073709551621\r\n\r\nhello",
    "cl-duplicate-different": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "cl-list-different": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5, 6\r\n\r\nhello!",
    "cl-list-empty-element": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5,\r\n\r\nhello",
    # Transfer-Encoding
    "cl-and-te": b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-and-cl": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    "te-chunked-not-last": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
    "te-gzip-only": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    "te-identity": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: identity\r\n\r\n0\r\n\r\n",
    "te-chunked-twice": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
    "te-chunked-two-fields": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "te-chunked-then-gzip-field": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n0\r\n\r\n",
    "te-chunked-param": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked;q=1\r\n\r\n0\r\n\r\n",
    "te-xchunked": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
    "te-empty-element": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: , chunked\r\n\r\n0\r\n\r\n",
    "te-empty": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding:\r\n\r\n0\r\n\r\n",
    "te-on-http10": b"POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    # chunk framing
    "chunk-size-zz": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "chunk-size-empty": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n",
    "chunk-size-negative": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-0x": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
    "chunk-size-huge": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n",
    "chunk-size-space-before-crlf": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
    "chunk-no-crlf-after-data": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "chunk-data-longer": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n",
    "chunk-lf-only": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
    "chunk-bad-extension": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n",
    "chunk-bad-trailer": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nBad Trailer\r\n\r\n",
    "chunk-trailer-obs-fold": b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: a\r\n b\r\n\r\n",
}


@pytest.mark.parametrize("data", CASES_400.values(), ids=CASES_400.keys())
def test_refused_with_400(srv, data):
    refused(srv.port, data, 400)


CASES_OTHER = {
    "http20": (b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    "h2-preface": (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    "http30": (b"GET / HTTP/3.0\r\n" + H + b"\r\n", 505),
    "http09-version": (b"GET / HTTP/0.9\r\n" + H + b"\r\n", 505),
    "te-gzip-chunked": (b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    "te-foo-chunked": (b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: foo, chunked\r\n\r\n0\r\n\r\n", 501),
    "connect": (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
    "expect-other": (b"POST /echo HTTP/1.1\r\n" + H + b"Expect: 200-ok\r\nContent-Length: 5\r\n\r\nhello", 417),
}


@pytest.mark.parametrize("data,status", CASES_OTHER.values(), ids=CASES_OTHER.keys())
def test_refused_with_status(srv, data, status):
    refused(srv.port, data, status)


HEAD_ERRORS = {
    "400-missing-host": (b"HEAD / HTTP/1.1\r\n\r\n", 400),
    "417-expect": (b"HEAD / HTTP/1.1\r\n" + H + b"Expect: foo\r\n\r\n", 417),
}


@pytest.mark.parametrize("data,status", HEAD_ERRORS.values(), ids=HEAD_ERRORS.keys())
def test_error_reply_to_head_has_no_body(srv, data, status):
    # RFC 9110 §9.3.2: no content in any response to HEAD, refusals included.
    with Client(srv.port) as c:
        c.send(data)
        r = c.read_head()
        assert r.status == status
        rest = c.read_until_close(timeout=3)
        assert rest == b"", f"the {status} reply to HEAD carried a body: {rest!r}"


def test_long_target_is_414(srv):
    refused(srv.port, b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414)


def test_huge_header_section_is_431(srv):
    refused(srv.port, b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"b" * 5000 + b"\r\n\r\n", 431)


def test_many_small_fields_over_buffer_size_is_431(srv):
    fields = b"".join(b"X-F%d: %s\r\n" % (i, b"v" * 60) for i in range(80))  # ~5.6 KB, 80 fields
    refused(srv.port, b"GET / HTTP/1.1\r\n" + H + fields + b"\r\n", 431)


def test_more_than_100_fields_is_431(srv):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(101))  # 102 with Host, well under 4 KB
    refused(srv.port, b"GET / HTTP/1.1\r\n" + H + fields + b"\r\n", 431)


def test_exactly_100_fields_is_accepted(srv):
    fields = b"".join(b"X-%d: 1\r\n" % i for i in range(99))
    with Client(srv.port) as c:
        c.send(b"GET /bytes/2 HTTP/1.1\r\n" + H + fields + b"\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"xx"


def test_head_just_under_buffer_size_is_accepted(srv):
    head = b"GET /bytes/2 HTTP/1.1\r\n" + H + b"X-Pad: "
    pad = 4096 - len(head) - 4 - 8  # leave a little slack for the CRLFs
    with Client(srv.port) as c:
        c.send(head + b"p" * pad + b"\r\n\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"xx"


def test_oversized_trailers_are_431(srv):
    data = (b"POST /echo HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n"
            + b"X-T: " + b"t" * 5000 + b"\r\n\r\n")
    refused(srv.port, data, 431)


def test_http12_is_served_as_http11(srv):
    with Client(srv.port) as c:
        c.send(b"GET /bytes/3 HTTP/1.2\r\n" + H + b"\r\n" + b"GET /bytes/4 HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"xxx" and r.version == "HTTP/1.1"
        assert c.read_response().body == b"xxxx"


def test_options_asterisk_is_accepted(srv):
    with Client(srv.port) as c:
        c.send(b"OPTIONS * HTTP/1.1\r\n" + H + b"\r\n")
        assert c.read_response().status == 200


def test_extension_method_is_accepted(srv):
    with Client(srv.port) as c:
        c.send(b"M-SEARCH.X~ /bytes/1 HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read_response()
        assert r.status == 200 and r.body == b"x"


def test_duplicate_identical_content_length_fields_accepted(srv):
    with Client(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
               + b"GET /bytes/1 HTTP/1.1\r\n" + H + b"\r\n")
        assert c.read_response().body == b"hello"
        assert c.read_response().body == b"x"


def test_framing_field_names_are_case_insensitive(srv):
    with Client(srv.port) as c:
        c.send(b"POST /echo HTTP/1.1\r\nhOST: x\r\ncontent-LENGTH: 3\r\n\r\nabc"
               + b"POST /echo HTTP/1.1\r\nHOST: x\r\nTRANSFER-ENCODING: CHUNKED\r\n\r\n2\r\nde\r\n0\r\n\r\n"
               + b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert c.read_response().body == b"abc"
        assert c.read_response().body == b"de"
        assert c.read_response().body == b"x"


def test_obs_text_in_field_value_accepted(pysrv):
    import json
    with Client(pysrv.port) as c:
        c.send(b"GET /env HTTP/1.1\r\n" + H + b"X-Latin: caf\xe9\tau lait \r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        assert json.loads(r.body)["headers"]["HTTP_X_LATIN"] == "caf\xe9\tau lait"


def test_absolute_form_target(pysrv):
    import json
    with Client(pysrv.port) as c:
        c.send(b"GET http://example.com:8080/p?q=1 HTTP/1.1\r\nHost: other.test\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        env = json.loads(r.body)
        assert env["PATH_INFO"] == "/p" and env["QUERY_STRING"] == "q=1"
        # RFC 9112 §3.2.2: the target's authority replaces Host.
        assert env["headers"]["HTTP_HOST"] == "example.com:8080"
        assert env["SERVER_NAME"] == "example.com" and env["SERVER_PORT"] == "8080"


def test_absolute_form_without_path(pysrv):
    import json
    with Client(pysrv.port) as c:
        c.send(b"GET http://example.com?x HTTP/1.1\r\nHost: example.com\r\n\r\n")
        r = c.read_response()
        assert r.status == 200
        env = json.loads(r.body)
        assert env["PATH_INFO"] == "/" and env["QUERY_STRING"] == "x"


def test_percent_decoded_path_and_raw_query(pysrv):
    import json
    with Client(pysrv.port) as c:
        c.send(b"GET /a%20b/%C3%A9?x=%zz&y=%20 HTTP/1.1\r\n" + H + b"\r\n")
        r = c.read_response()
        assert r.status == 200
        env = json.loads(r.body.decode())
        # PEP 3333: PATH_INFO is the decoded bytes as latin-1.
        assert env["PATH_INFO"].encode("latin-1") == b"/a b/\xc3\xa9"
        assert env["QUERY_STRING"] == "x=%zz&y=%20"
