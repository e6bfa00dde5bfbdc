"""A real Django 3.2 project (admin, auth, sessions, messages, CSRF) served
by trellis: the admin login flow end to end."""
import hashlib
import os
import re
import subprocess

import pytest
import requests

from conftest import APPS
from wsgi_support import PY_HTTP, start_module_server

PROJECT = APPS / "djproject"
PY = "/usr/bin/python3"
USER, PASSWORD = "admin", "s3cret-Pa55"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    dbdir = tmp_path_factory.mktemp("djdb")
    env = dict(os.environ, DJANGO_DB_PATH=str(dbdir / "db.sqlite3"), DJANGO_SETTINGS_MODULE="djsite.settings",
               PYTHONDONTWRITEBYTECODE="1")
    subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=PROJECT, env=env, check=True,
                   timeout=60)
    subprocess.run([PY, "manage.py", "createsuperuser", "--noinput", "--username", USER, "--email", "a@x.test"],
                   cwd=PROJECT, env=dict(env, DJANGO_SUPERUSER_PASSWORD=PASSWORD), check=True, timeout=60,
                   capture_output=True)
    s = start_module_server(tmp_path_factory, *PY_HTTP, "--chdir", str(PROJECT), "--module", "djsite.wsgi",
                            "--processes", "2", env={"DJANGO_DB_PATH": env["DJANGO_DB_PATH"]})
    yield s
    s.stop()


def csrf_token(html):
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert m, html[:2000]
    return m.group(1)


def test_admin_login_flow(srv):
    s = requests.Session()
    r = s.get(srv.url + "/admin/login/?next=/admin/", timeout=10)
    assert r.status_code == 200
    assert "csrfmiddlewaretoken" in r.text
    token = csrf_token(r.text)
    assert s.cookies.get("csrftoken")

    r = s.post(srv.url + "/admin/login/?next=/admin/",
               data={"csrfmiddlewaretoken": token, "username": USER, "password": PASSWORD, "next": "/admin/"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:2000]
    assert r.headers["Location"] == "/admin/"
    assert s.cookies.get("sessionid")

    r = s.get(srv.url + "/admin/", timeout=10)
    assert r.status_code == 200
    assert "Site administration" in r.text
    assert "Log out" in r.text
    assert f"<strong>{USER}</strong>" in r.text
    # The session is shared by both workers (it lives in the database).
    for _ in range(6):
        assert s.get(srv.url + "/info/", timeout=10).json()["user"] == USER

    # A model page of the admin works too.
    r = s.get(srv.url + "/admin/auth/user/", timeout=10)
    assert r.status_code == 200 and USER in r.text


def test_wrong_password_stays_on_login_page(srv):
    s = requests.Session()
    token = csrf_token(s.get(srv.url + "/admin/login/", timeout=10).text)
    r = s.post(srv.url + "/admin/login/", data={"csrfmiddlewaretoken": token, "username": USER,
                                                 "password": "wrong", "next": "/admin/"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 200
    assert "Please enter the correct username and password" in r.text
    assert "sessionid" not in s.cookies


def test_admin_requires_login(srv):
    r = requests.get(srv.url + "/admin/", allow_redirects=False, timeout=10)
    assert r.status_code == 302
    assert r.headers["Location"] == "/admin/login/?next=/admin/"


def test_post_without_csrf_token_is_403(srv):
    r = requests.post(srv.url + "/admin/login/", data={"username": USER, "password": PASSWORD}, timeout=10)
    assert r.status_code == 403
    assert "CSRF" in r.text
    r = requests.post(srv.url + "/form/", data={"value": "x"}, timeout=10)
    assert r.status_code == 403


def test_post_with_csrf_token_is_accepted(srv):
    s = requests.Session()
    token = csrf_token(s.get(srv.url + "/admin/login/", timeout=10).text)
    r = s.post(srv.url + "/form/", data={"value": "ünïcode", "csrfmiddlewaretoken": token}, timeout=10)
    assert r.status_code == 200 and r.json() == {"value": "ünïcode"}


def test_request_info(srv):
    r = requests.get(srv.url + "/info/?a=1&b=%C3%A9", timeout=10).json()
    assert r["host"] == f"127.0.0.1:{srv.port}"
    assert r["absolute"] == f"{srv.url}/info/?a=1&b=%C3%A9"
    assert r["query"] == {"a": "1", "b": "é"}
    assert r["user"] == "AnonymousUser" and r["remote_addr"] == "127.0.0.1"


def test_unicode_path(srv):
    # Django decodes PATH_INFO (latin-1 per PEP 3333) back to UTF-8.
    r = requests.get(srv.url + "/info/%C3%A9/", timeout=10)
    assert r.status_code == 404  # no such URL, but a clean Django 404, not a 500
    assert "Not Found" in r.text


def test_multipart_upload(srv):
    data = os.urandom(2 * 1024 * 1024 + 5)
    r = requests.post(srv.url + "/upload/", files={"file": ("d.bin", data)}, data={"field": "v"}, timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.json() == {"name": "d.bin", "size": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "field": "v"}


def test_disallowed_host_is_400(srv):
    r = requests.get(srv.url + "/info/", headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 400


def test_view_exception_is_500(srv):
    r = requests.get(srv.url + "/boom/", timeout=10)
    assert r.status_code == 500
    assert srv.wait_log("django-view-exception-marker")
    assert requests.get(srv.url + "/info/", timeout=10).status_code == 200


def test_file_response_through_file_wrapper(srv):
    data = os.urandom(4 * 1024 * 1024 + 1)
    (srv.state_dir / "dl.bin").write_bytes(data)
    r = requests.get(srv.url + "/download/dl.bin", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Length"] == str(len(data))
    assert r.content == data


def test_streaming_http_response(srv):
    r = requests.get(srv.url + "/stream/?n=100", timeout=10)
    assert r.status_code == 200
    assert r.headers.get("Transfer-Encoding") == "chunked"
    assert r.text == "".join(f"line {i}\n" for i in range(100))


def logged_in(srv):
    s = requests.Session()
    token = csrf_token(s.get(srv.url + "/admin/login/", timeout=10).text)
    r = s.post(srv.url + "/admin/login/", data={"csrfmiddlewaretoken": token, "username": USER,
                                                 "password": PASSWORD, "next": "/admin/"},
               allow_redirects=False, timeout=10)
    assert r.status_code == 302
    return s


def test_admin_add_object_with_message(srv):
    s = logged_in(srv)
    r = s.get(srv.url + "/admin/auth/group/add/", timeout=10)
    assert r.status_code == 200
    token = csrf_token(r.text)
    r = s.post(srv.url + "/admin/auth/group/add/", data={"csrfmiddlewaretoken": token, "name": "testers-ü",
                                                        "_save": "Save"}, allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text[:1500]
    assert r.headers["Location"] == "/admin/auth/group/"
    r = s.get(srv.url + "/admin/auth/group/", timeout=10)
    assert r.status_code == 200
    # The messages framework carried the success message across the redirect.
    assert "was added successfully" in r.text and "testers-ü" in r.text
    # Shown once only.
    assert "was added successfully" not in s.get(srv.url + "/admin/auth/group/", timeout=10).text


def test_admin_logout(srv):
    s = logged_in(srv)
    assert s.get(srv.url + "/info/", timeout=10).json()["user"] == USER
    r = s.get(srv.url + "/admin/logout/", timeout=10)
    assert r.status_code == 200 and "Logged out" in r.text
    assert s.get(srv.url + "/info/", timeout=10).json()["user"] == "AnonymousUser"
