"""nginx's `uwsgi_modifier1 30;` in front of trellis's uwsgi plugin.

Modifier1 30 is uWSGI's legacy "manage PATH_INFO" modifier: nginx mounts an
application under a prefix with `uwsgi_param SCRIPT_NAME /app;` but still
sends the full path as PATH_INFO, and the server removes the SCRIPT_NAME
prefix before the WSGI application sees it. uWSGI serves it with its python
plugin (modifier1 0); trellis used to refuse it (connection closed, nginx 502).
"""
import http.client
import json

import pytest

from conftest import free_port
from nginx_support import nginx, require_nginx, wait_until  # noqa: F401

pytestmark = pytest.mark.usefixtures("needs_nginx")

# The application answers with what PEP 3333 tells it about the path, so the
# test sees exactly the environ the server built.
APP_SOURCE = '''\
import json


def application(environ, start_response):
    keys = ("SCRIPT_NAME", "PATH_INFO", "REQUEST_URI", "QUERY_STRING", "REQUEST_METHOD")
    out = {k: environ.get(k) for k in keys}
    out["body"] = environ["wsgi.input"].read().decode("latin-1")
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
'''

MOUNT = """\
            uwsgi_modifier1 30;
            uwsgi_param SCRIPT_NAME /app;"""


@pytest.fixture
def needs_nginx():
    require_nginx()


@pytest.fixture
def stack(server, nginx, tmp_path):
    """stack(location_extra): trellis (python + uwsgi over TCP) behind nginx."""

    def make(location_extra):
        app = tmp_path / "path_app.py"
        app.write_text(APP_SOURCE)
        port = free_port()
        trellis = server("--plugin", "python", "--plugin", "uwsgi", "--wsgi-file", str(app),
                         "--socket", f"127.0.0.1:{port}", http=False, port=port)
        ng = nginx(f"127.0.0.1:{port}", location_extra=location_extra)
        return trellis, ng

    return make


def request(port, method, path, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def environ_for(ng, method, path, body=None):
    status, data = request(ng.port, method, path, body)
    assert status == 200, f"{status} {data!r}\n{ng.error_log()}"
    return json.loads(data)


def test_modifier30_strips_script_name_from_path_info(stack):
    trellis, ng = stack(MOUNT)

    env = environ_for(ng, "GET", "/app/rest")
    assert env["SCRIPT_NAME"] == "/app"
    assert env["PATH_INFO"] == "/rest"
    # Only PATH_INFO changes: the request line is what the client sent.
    assert env["REQUEST_URI"] == "/app/rest"

    env = environ_for(ng, "GET", "/app/a%20b/c?x=1&y=2")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/a b/c")  # nginx's decoded $document_uri
    assert env["QUERY_STRING"] == "x=1&y=2"

    # The mount point itself leaves PATH_INFO empty, as under uWSGI.
    env = environ_for(ng, "GET", "/app")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "")

    # A path outside SCRIPT_NAME passes unchanged.
    env = environ_for(ng, "GET", "/other/x")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/other/x")

    # Bodies are read as for any request.
    env = environ_for(ng, "POST", "/app/form", body=b"a=1&b=2")
    assert (env["REQUEST_METHOD"], env["PATH_INFO"], env["body"]) == ("POST", "/form", "a=1&b=2")

    assert "no runtime serves modifier1" not in trellis.log()
    assert wait_until(lambda: "/app/rest" in ng.access_log())
    assert " 502 " not in ng.access_log(), ng.access_log()


def test_without_modifier30_path_info_keeps_the_prefix(stack):
    # Control: the same SCRIPT_NAME with the default modifier1 0 is passed
    # through as sent, so the stripping above is the modifier's doing.
    trellis, ng = stack("            uwsgi_param SCRIPT_NAME /app;")
    env = environ_for(ng, "GET", "/app/rest")
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/app", "/app/rest")
