"""Real ASGI applications on the asgi runtime: Starlette, FastAPI (request
validation, streaming, background tasks, a sync route) and Django 3.2 via
get_asgi_application() with an async view and a sync view."""
import requests

from conftest import APPS, wait_until

BASE = ["--plugin", "asgi", "--plugin", "http", "--processes", "2", "--pythonpath", str(APPS)]


def test_starlette(server):
    s = server(*BASE, "--asgi-file", str(APPS / "asgi_starlette.py"))
    r = requests.get(s.url + "/", timeout=10)
    assert (r.status_code, r.text) == (200, "starlette home")
    r = requests.get(s.url + "/items/42?q=x", timeout=10)
    assert r.json() == {"id": 42, "q": "x", "started": True}  # lifespan ran
    r = requests.post(s.url + "/echo", data=b"abcdef" * 1000, timeout=10)
    assert r.text == ("abcdef" * 1000)[::-1] and r.headers["x-length"] == "6000"
    r = requests.get(s.url + "/stream", timeout=10)
    assert r.text == "0\n1\n2\n3\n4\n"
    assert r.headers.get("transfer-encoding") == "chunked"
    sess = requests.Session()  # one connection: one worker
    assert sess.get(s.url + "/background", timeout=10).text == "queued"
    assert wait_until(lambda: sess.get(s.url + "/tasks", timeout=10).text == "1", timeout=5)
    assert requests.get(s.url + "/nope", timeout=10).status_code == 404


def test_fastapi(server):
    s = server(*BASE, "--module", "asgi_fastapi:app")
    assert requests.get(s.url + "/", timeout=10).json() == {"hello": "fastapi"}
    assert requests.get(s.url + "/items/7?q=hi", timeout=10).json() == {"item_id": 7, "q": "hi"}
    # Validation: a path parameter that is not an int, a body that misses a field.
    r = requests.get(s.url + "/items/seven", timeout=10)
    assert r.status_code == 422
    r = requests.post(s.url + "/items", json={"name": "pen", "price": 2.5, "tags": ["a"]}, timeout=10)
    assert r.json() == {"name": "pen", "price_with_tax": 3.0, "tags": ["a"]}
    r = requests.post(s.url + "/items", json={"name": "pen"}, timeout=10)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "price"]
    assert requests.get(s.url + "/sync", timeout=10).json() == {"sync": True}
    r = requests.get(s.url + "/stream", timeout=10)
    assert r.text == "chunk 0\nchunk 1\nchunk 2\n"
    sess = requests.Session()
    assert sess.post(s.url + "/notify", timeout=10).json() == {"queued": True}
    # The task runs after the response went out: wait for it (same
    # connection, same worker).
    assert wait_until(lambda: "notified" in sess.get(s.url + "/log", timeout=10).json()["log"], timeout=5)
    docs = requests.get(s.url + "/openapi.json", timeout=10).json()
    assert "/items/{item_id}" in docs["paths"]


def test_django_async_and_sync_views(server):
    s = server(*BASE, "--asgi-file", str(APPS / "asgi_django.py"))
    r = requests.get(s.url + "/async/?q=1", timeout=10)
    assert r.json() == {"kind": "async", "path": "/async/", "q": "1"}
    r = requests.get(s.url + "/sync/", timeout=10)
    # asgiref runs the sync view in its executor thread, not the loop's.
    assert r.json() == {"kind": "sync", "main_thread": False}
    r = requests.post(s.url + "/post/", data=b"shout", timeout=10)
    assert (r.status_code, r.text) == (200, "SHOUT")
    assert requests.get(s.url + "/async", timeout=10, allow_redirects=False).status_code == 301
    assert requests.get(s.url + "/missing/", timeout=10).status_code == 404
