"""The asgi runtime under the process features WSGI users have: graceful
reload and shutdown under load, --max-requests, the stats server's
in-flight requests, --harakiri."""
import http.client
import signal
import threading
import time

from conftest import APPS, wait_until

APP = str(APPS / "asgi_app.py")
ASGI = ["--plugin", "asgi", "--plugin", "http", "--asgi-file", APP]


def get(port, path, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_reload_under_load_loses_nothing(server):
    s = server(*ASGI, "--processes", "2", "--master")
    stop = threading.Event()
    results, errors = [], []

    def client():
        while not stop.is_set():
            try:
                results.append(get(s.port, "/sleep?ms=20")[0])
            except Exception as e:  # noqa: BLE001 - every failure counts
                errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    for generation in range(2, 5):
        assert wait_until(lambda: len(results) > 20 * generation, timeout=20)
        s.send(signal.SIGHUP)
        assert s.wait_log(f"all 2 workers are ready (generation {generation})", timeout=30), s.log()
    stop.set()
    for t in threads:
        t.join()
    assert errors == []
    assert set(results) == {200}
    # Each old worker ran its lifespan shutdown before it went (the last
    # generation's may still be exiting when its successors are ready).
    assert wait_until(lambda: s.log().count("asgi_app: lifespan shutdown in") >= 6, timeout=15), s.log()


def test_graceful_stop_finishes_requests_in_flight(server):
    s = server(*ASGI, "--processes", "1", stats=True)
    results = []
    threads = [threading.Thread(target=lambda: results.append(get(s.port, "/sleep?ms=1500"))) for _ in range(5)]
    for t in threads:
        t.start()
    # The stats server shows the worker busy with them (core 0 carries
    # the oldest request an asynchronous runtime holds).
    assert wait_until(lambda: s.in_app() >= 1, timeout=10), s.stats()
    s.send(signal.SIGTERM)
    for t in threads:
        t.join()
    assert results == [(200, b"slept")] * 5
    assert s.proc.wait(timeout=15) == 0


def test_max_requests_recycles_the_worker(server):
    s = server(*ASGI, "--processes", "1", "--max-requests", "5")
    first = set(s.workers())
    for _ in range(12):
        assert get(s.port, "/hello") == (200, b"Hello, world!")
    assert wait_until(lambda: set(s.workers()) - first, timeout=10)
    assert "--max-requests" in s.log()


def test_harakiri_recycles_the_worker(server):
    s = server(*ASGI, "--processes", "1", "--harakiri", "1")
    first = set(s.workers())
    try:
        get(s.port, "/sleep?ms=4000", timeout=10)
    except Exception:  # noqa: BLE001 - the worker is killed under it
        pass
    assert s.wait_log("HARAKIRI", timeout=10), s.log()
    assert wait_until(lambda: set(s.workers()) and not set(s.workers()) & first, timeout=10)
    assert get(s.port, "/hello") == (200, b"Hello, world!")
