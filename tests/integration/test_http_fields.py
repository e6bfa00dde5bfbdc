"""HTTP/1.1 plugin, request fields as the WSGI app sees them: names with
'_' dropped (they would impersonate '-' names in CGI form), repeats joined
with ", " in arrival order (Cookie with "; "), OWS trimmed."""
import json

import pytest

from http_support import PYAPP, Client, module_server, request  # noqa: F401


@pytest.fixture(scope="module")
def srv(module_server):
    return module_server(*PYAPP, "--processes", "1")


def env_of(port, *lines):
    with Client(port) as c:
        c.send(b"GET /env HTTP/1.1\r\nHost: x\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\n")
        r = c.read_response()
        assert r.status == 200, r
        return json.loads(r.body)


def test_dash_name_becomes_http_variable(srv):
    env = env_of(srv.port, b"X-Foo: 1")
    assert env["headers"]["HTTP_X_FOO"] == "1"


def test_underscore_name_is_dropped(srv):
    env = env_of(srv.port, b"X_Foo: 1")
    assert "HTTP_X_FOO" not in env["headers"], env


def test_underscore_cannot_impersonate_dash_name(srv):
    env = env_of(srv.port, b"X-Auth-User: alice", b"X_Auth_User: mallory")
    assert env["headers"]["HTTP_X_AUTH_USER"] == "alice"


def test_underscore_content_length_does_not_frame(srv):
    env = env_of(srv.port, b"Content_Length: 5")
    assert env["CONTENT_LENGTH"] in (None, "", "0"), env


def test_repeated_fields_joined_in_order(srv):
    env = env_of(srv.port, b"Accept: text/html", b"X-Other: o", b"accept: application/json", b"ACCEPT: */*")
    assert env["headers"]["HTTP_ACCEPT"] == "text/html, application/json, */*"
    assert env["headers"]["HTTP_X_OTHER"] == "o"


def test_repeated_cookie_joined_with_semicolon(srv):
    env = env_of(srv.port, b"Cookie: a=1", b"Cookie: b=2")
    assert env["headers"]["HTTP_COOKIE"] == "a=1; b=2"


def test_ows_trimmed_inner_whitespace_kept(srv):
    env = env_of(srv.port, b"X-Pad: \t  a  b \t ", b"X-Empty:", b"X-Empty2:   ")
    assert env["headers"]["HTTP_X_PAD"] == "a  b"
    assert env["headers"]["HTTP_X_EMPTY"] == ""
    assert env["headers"]["HTTP_X_EMPTY2"] == ""


def test_content_type_and_length_are_cgi_variables(srv):
    with Client(srv.port) as c:
        c.send(request("POST", "/env", headers=[("Content-Type", "text/x-test")], body=b"12345"))
        env = json.loads(c.read_response().body)
    assert env["CONTENT_TYPE"] == "text/x-test"
    assert env["CONTENT_LENGTH"] == "5"
    assert "HTTP_CONTENT_TYPE" not in env["headers"] and "HTTP_CONTENT_LENGTH" not in env["headers"]


@pytest.mark.parametrize("lines", [[b"Content-Length: 5, 5"], [b"Content-Length: 5", b"Content-Length: 5"]],
                         ids=["list", "repeated"])
def test_accepted_duplicate_content_length_reaches_the_app_as_one_number(srv, lines):
    # The server accepts identical repeats as length 5 (RFC 9112 §6.3), so
    # the app must see CONTENT_LENGTH "5": CGI (RFC 3875 §4.1.2) allows only
    # digits, and Django/Werkzeug turn an unparsable value into 0 and
    # silently read no body.
    with Client(srv.port) as c:
        c.send(b"POST /env HTTP/1.1\r\nHost: x\r\n" + b"".join(l + b"\r\n" for l in lines) + b"\r\nhello")
        r = c.read_response()
        assert r.status == 200
        env = json.loads(r.body)
    assert env["CONTENT_LENGTH"] == "5", env


def test_host_gives_server_name_and_port(srv):
    env = env_of(srv.port)
    assert env["headers"]["HTTP_HOST"] == "x"
    assert env["SERVER_NAME"] == "x"
    env2 = json.loads(_raw(srv.port, b"GET /env HTTP/1.1\r\nHost: [::1]:9000\r\n\r\n").body)
    assert env2["SERVER_NAME"] == "[::1]" and env2["SERVER_PORT"] == "9000"


def _raw(port, data):
    with Client(port) as c:
        c.send(data)
        return c.read_response()
