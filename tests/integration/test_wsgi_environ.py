"""PEP 3333 environ as an application sees it, over real HTTP."""
import json
import socket

import pytest
import requests

from wsgi_support import RawConnection, app_args, raw_request, start_module_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = start_module_server(tmp_path_factory, *app_args("--processes", "2"))
    yield s
    s.stop()


def env_of(resp):
    assert resp.status == 200, resp.body
    return resp.json()


def val(env, key):
    return env[key][1]


def typ(env, key):
    return env[key][0]


REQUIRED_STR = ["REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
                "SERVER_PROTOCOL", "wsgi.url_scheme"]


def test_required_keys_and_types(srv):
    env = requests.get(srv.url + "/env/x?y=1", timeout=10).json()
    for key in REQUIRED_STR + ["REMOTE_ADDR", "REMOTE_PORT", "REQUEST_URI"]:
        assert key in env, key
        assert typ(env, key) == "str", (key, env[key])
    assert env["wsgi.version"] == ["tuple", [1, 0]]
    for key in ("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated"):
        assert typ(env, key) == "bool", (key, env[key])
    assert val(env, "wsgi.run_once") is False
    assert val(env, "wsgi.input_terminated") is True
    assert "wsgi.input" in env and "wsgi.errors" in env
    assert env["_input_methods"] == ["read", "readline", "readlines", "__iter__"]
    assert env["_errors_methods"] == ["write", "writelines", "flush"]
    assert env["_file_wrapper_callable"] is True
    # Every CGI-style key (no dot) holds a native str (PEP 3333 "native strings").
    for key, desc in env.items():
        if not key.startswith("_") and "." not in key:
            assert desc[0] == "str", (key, desc)


def test_basic_values(srv):
    with RawConnection(srv.port) as c:
        client_port = c.sock.getsockname()[1]
        c.send(f"GET /env/plain?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\nConnection: close\r\n\r\n".encode())
        env = env_of(c.read_response())
    assert val(env, "REQUEST_METHOD") == "GET"
    assert val(env, "SCRIPT_NAME") == ""
    assert val(env, "PATH_INFO") == "/env/plain"
    assert val(env, "QUERY_STRING") == "q=1"
    assert val(env, "REQUEST_URI") == "/env/plain?q=1"
    assert val(env, "SERVER_NAME") == "127.0.0.1"
    assert val(env, "SERVER_PORT") == str(srv.port)
    assert val(env, "REMOTE_ADDR") == "127.0.0.1"
    assert val(env, "REMOTE_PORT") == str(client_port)
    assert val(env, "SERVER_PROTOCOL") == "HTTP/1.1"
    assert val(env, "wsgi.url_scheme") == "http"
    assert val(env, "HTTP_HOST") == f"127.0.0.1:{srv.port}"


def test_path_info_is_percent_decoded_and_latin1(srv):
    env = env_of(raw_request(srv.port, path="/env/a%20b/caf%C3%A9/%7Euser?x=%20y&z=caf%C3%A9+1"))
    # UTF-8 bytes C3 A9 arrive as two latin-1 code points (PEP 3333).
    assert val(env, "PATH_INFO") == "/env/a b/caf\u00c3\u00a9/~user"
    assert val(env, "PATH_INFO").encode("latin-1").decode("utf-8") == "/env/a b/caf\u00e9/~user"
    assert val(env, "QUERY_STRING") == "x=%20y&z=caf%C3%A9+1"
    assert val(env, "REQUEST_URI") == "/env/a%20b/caf%C3%A9/%7Euser?x=%20y&z=caf%C3%A9+1"


def test_raw_utf8_bytes_in_target(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /env/\xc3\xa9t\xc3\xa9 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        env = env_of(c.read_response())
    assert val(env, "PATH_INFO") == "/env/\u00c3\u00a9t\u00c3\u00a9"


def test_empty_query_string_is_present(srv):
    env = env_of(raw_request(srv.port, path="/env/noquery"))
    assert env["QUERY_STRING"] == ["str", ""]
    assert val(env, "REQUEST_URI") == "/env/noquery"


def test_content_type_and_length_only_when_sent(srv):
    env = env_of(raw_request(srv.port, path="/env/get"))
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH", "HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        assert key not in env, key

    env = env_of(raw_request(srv.port, "POST", "/env/post", headers={"Content-Type": "text/x-test; charset=utf-8"},
                             body=b"hello body"))
    assert env["CONTENT_TYPE"] == ["str", "text/x-test; charset=utf-8"]
    assert env["CONTENT_LENGTH"] == ["str", "10"]
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env
    assert env["_body"] == "hello body"
    assert val(env, "REQUEST_METHOD") == "POST"


def test_http_headers(srv):
    with RawConnection(srv.port) as c:
        c.send(b"GET /env/h HTTP/1.1\r\nHost: example.test:8081\r\nX-Custom-Header: custom value\r\n"
               b"X-Multi: one\r\nX-Multi: two\r\nCookie: a=1\r\nCookie: b=2\r\n"
               b"X_Spoofed: underscore\r\nUser-Agent: raw-test/1.0\r\nAccept:  */*  \r\n"
               b"Connection: close\r\n\r\n")
        env = env_of(c.read_response())
    assert val(env, "HTTP_X_CUSTOM_HEADER") == "custom value"
    assert val(env, "HTTP_X_MULTI") == "one, two"
    assert val(env, "HTTP_COOKIE") == "a=1; b=2"
    assert val(env, "HTTP_USER_AGENT") == "raw-test/1.0"
    assert val(env, "HTTP_ACCEPT") == "*/*"  # optional whitespace is not part of the value
    assert "HTTP_X_SPOOFED" not in env
    assert val(env, "HTTP_HOST") == "example.test:8081"
    assert val(env, "SERVER_NAME") == "example.test"
    assert val(env, "SERVER_PORT") == "8081"


def test_host_without_port(srv):
    env = env_of(raw_request(srv.port, path="/env/h", headers={"Host": "example.test"}))
    assert val(env, "SERVER_NAME") == "example.test"
    # RFC 9110: without a port, the default for the scheme (80 for http).
    # CGI's SERVER_PORT is the port the request came in on; accept either,
    # but it must be a port number.
    assert val(env, "SERVER_PORT") in ("80", str(srv.port))


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND"])
def test_request_methods(srv, method):
    env = env_of(raw_request(srv.port, method, "/env/m", body=b"x" if method in ("PUT", "PATCH") else b""))
    assert val(env, "REQUEST_METHOD") == method


def test_http10_protocol(srv):
    env = env_of(raw_request(srv.port, path="/env/old", version="HTTP/1.0", headers={"Connection": "close"}))
    assert val(env, "SERVER_PROTOCOL") == "HTTP/1.0"


def test_multiprocess_flags_with_processes(srv):
    env = env_of(raw_request(srv.port, path="/env"))
    assert val(env, "wsgi.multiprocess") is True
    assert val(env, "wsgi.multithread") is False


def test_multithread_flag_with_threads(server):
    s = server(*app_args("--threads", "4"))
    env = requests.get(s.url + "/env", timeout=10).json()
    assert val(env, "wsgi.multithread") is True
    assert val(env, "wsgi.multiprocess") is False


def test_single_process_single_thread_flags(server):
    s = server(*app_args())
    env = requests.get(s.url + "/env", timeout=10).json()
    assert val(env, "wsgi.multithread") is False
    assert val(env, "wsgi.multiprocess") is False


def test_environ_is_fresh_per_request(srv):
    """Headers of one request must not leak into the next on the same connection."""
    with RawConnection(srv.port) as c:
        c.send(b"GET /env/1 HTTP/1.1\r\nHost: h\r\nX-Only-First: yes\r\n\r\n")
        first = env_of(c.read_response())
        c.send(b"GET /env/2 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        second = env_of(c.read_response())
    assert val(first, "HTTP_X_ONLY_FIRST") == "yes"
    assert "HTTP_X_ONLY_FIRST" not in second
    assert val(second, "PATH_INFO") == "/env/2"


def env_raw(srv, raw):
    with RawConnection(srv.port) as c:
        c.send(raw)
        return env_of(c.read_response())


def test_encoded_slash_plus_and_empty_query(srv):
    env = env_raw(srv, b"GET /env/x%2Fy+z? HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert val(env, "PATH_INFO") == "/env/x/y+z"  # '+' is not a space in a path
    assert val(env, "QUERY_STRING") == ""
    assert val(env, "REQUEST_URI") == "/env/x%2Fy+z?"


def test_non_utf8_escapes_and_raw_query(srv):
    env = env_raw(srv, b"GET /env/%ff%FE?a=%zz&b=%% HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
    assert val(env, "PATH_INFO") == "/env/\u00ff\u00fe"
    assert val(env, "QUERY_STRING") == "a=%zz&b=%%"  # never decoded or validated


def test_obs_text_header_value_is_latin1(srv):
    env = env_raw(srv, b"GET /env/u HTTP/1.1\r\nHost: h\r\nX-Utf8: \xc3\xa9t\xc3\xa9\r\nConnection: close\r\n\r\n")
    assert val(env, "HTTP_X_UTF8") == "\u00c3\u00a9t\u00c3\u00a9"


def test_http10_without_host(srv):
    env = env_raw(srv, b"GET /env/nohost HTTP/1.0\r\n\r\n")
    assert "HTTP_HOST" not in env
    assert val(env, "SERVER_NAME") == "127.0.0.1"
    assert val(env, "SERVER_PORT") == str(srv.port)


def test_absolute_form_target(srv):
    env = env_raw(srv, b"GET http://example.test:81/env/abs?q=1 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")
    assert val(env, "PATH_INFO") == "/env/abs"
    assert val(env, "QUERY_STRING") == "q=1"
    assert val(env, "HTTP_HOST") == "example.test:81"  # RFC 9112 3.2.2: the target's authority wins
    assert val(env, "SERVER_NAME") == "example.test" and val(env, "SERVER_PORT") == "81"


def test_ipv6_host_header(srv):
    env = env_raw(srv, b"GET /env/6 HTTP/1.1\r\nHost: [::1]:8080\r\nConnection: close\r\n\r\n")
    assert val(env, "SERVER_PORT") == "8080"
    assert val(env, "SERVER_NAME") in ("[::1]", "::1")


@pytest.mark.parametrize("target", [b"/env/a%2", b"/env/a%zz", b"/env/a%00b"])
def test_bad_path_escapes_are_400_not_passed_on(srv, target):
    with RawConnection(srv.port) as c:
        c.send(b"GET " + target + b" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        r = c.read_response()
    assert r.status == 400


def test_module_is_not_run_as_main(srv):
    env = requests.get(srv.url + "/env", timeout=10).json()
    assert env["_module_name"] != "__main__"
    assert env["_module_name"].startswith("trellis_file_")
