"""How the WSGI host is started and scheduled: keep-alive, threads,
preload vs lazy-apps, --module/--pythonpath/--chdir/--callable, broken apps."""
import http.client
import threading
import time

import pytest
import requests

from conftest import APPS, Server
from wsgi_support import PY_HTTP, RawConnection, app_args


def test_keepalive_many_requests_one_connection(server):
    s = server(*app_args("--processes", "2"))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        ports = set()
        for i in range(10):
            conn.request("GET", f"/env/{i}")
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("Connection", "").lower() != "close"
            env = __import__("json").loads(resp.read())
            assert env["PATH_INFO"][1] == f"/env/{i}"
            ports.add(env["REMOTE_PORT"][1])
            pids = env["_pid"]
        # Same REMOTE_PORT every time: one TCP connection served them all.
        assert len(ports) == 1
        assert ports == {str(conn.sock.getsockname()[1])}
        assert pids
    finally:
        conn.close()


def test_pipelined_requests(server):
    s = server(*app_args())
    with RawConnection(s.port) as c:
        c.send(b"GET /env/p1 HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /write HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /env/p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r1, r2, r3 = c.read_response(), c.read_response(), c.read_response()
        assert c.at_eof()
    assert r1.json()["PATH_INFO"][1] == "/env/p1"
    assert r2.body == b"one,two,three,four"
    assert r3.json()["PATH_INFO"][1] == "/env/p3"


def test_http10_keepalive_on_request(server):
    s = server(*app_args())
    with RawConnection(s.port) as c:
        c.send(b"GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        r1 = c.read_response()
        assert r1.header("connection").lower() == "keep-alive"
        c.send(b"GET /hello HTTP/1.0\r\n\r\n")
        r2 = c.read_response()
        assert r2.body == b"Hello from wsgi_app"
        assert c.at_eof()  # HTTP/1.0 without keep-alive: closed after


def concurrent_sleeps(url, n, secs):
    results = [None] * n

    def one(i):
        results[i] = requests.get(url + f"/sleep?s={secs}", timeout=20).json()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.monotonic() - t0, results


def test_threads_run_requests_concurrently(server):
    s = server(*app_args("--processes", "1", "--threads", "4"))
    elapsed, results = concurrent_sleeps(s.url, 4, 0.5)
    assert all(results)
    assert len({r["pid"] for r in results}) == 1  # one process: threads did it
    assert len({r["thread"] for r in results}) == 4
    assert elapsed < 1.6, f"4 x 0.5 s took {elapsed:.2f}s: not concurrent"
    # The intervals actually overlap.
    assert max(r["start"] for r in results) < min(r["end"] for r in results)


def test_processes_run_requests_concurrently(server):
    s = server(*app_args("--processes", "4"))
    elapsed, results = concurrent_sleeps(s.url, 4, 0.5)
    assert all(results)
    assert elapsed < 1.9, f"4 x 0.5 s on 4 workers took {elapsed:.2f}s"
    assert len({r["pid"] for r in results}) >= 2


def test_single_thread_serialises(server):
    """Control for the concurrency tests: one process, one thread."""
    s = server(*app_args("--processes", "1"))
    elapsed, results = concurrent_sleeps(s.url, 3, 0.3)
    assert elapsed >= 0.85


@pytest.mark.parametrize("mode", ["preload", "lazy"])
def test_preload_and_lazy_apps(server, mode):
    extra = ["--lazy-apps"] if mode == "lazy" else []
    s = server(*app_args("--processes", "2", *extra))
    seen = {}
    for _ in range(20):
        env = requests.get(s.url + "/env", timeout=10).json()
        seen[env["_pid"]] = env["_import_pid"]
    assert set(seen) <= set(s.workers())
    for worker_pid, import_pid in seen.items():
        if mode == "lazy":
            assert import_pid == worker_pid  # imported after fork, in the worker
        else:
            assert import_pid != worker_pid  # imported once, before fork


def test_module_with_pythonpath_and_callable_in_module_spec(server):
    s = server(*PY_HTTP, "--pythonpath", str(APPS / "pylib"), "--module", "trellis_pkg.web:app")
    r = requests.get(s.url + "/m", timeout=10).json()
    assert r["callable"] == "app" and r["module"] == "trellis_pkg.web"
    assert str(APPS / "pylib") in r["sys_path_head"]


def test_module_default_callable_is_application(server):
    s = server(*PY_HTTP, "--pythonpath", str(APPS / "pylib"), "--module", "trellis_pkg.web")
    assert requests.get(s.url + "/", timeout=10).json()["callable"] == "application"


def test_module_with_callable_option_dotted(server):
    s = server(*PY_HTTP, "--pythonpath", str(APPS / "pylib"), "--module", "trellis_pkg.web",
               "--callable", "Holder.nested")
    assert requests.get(s.url + "/", timeout=10).json()["callable"] == "Holder.nested"


def test_wsgi_file_with_callable(server):
    s = server(*app_args("--callable", "other_app"))
    r = requests.get(s.url + "/env", timeout=10)
    assert r.text == "other callable"


def test_chdir_makes_module_importable(server):
    s = server(*PY_HTTP, "--chdir", str(APPS / "chdir_app"), "--module", "chdir_mod")
    r = requests.get(s.url + "/", timeout=10).json()
    assert r["cwd"] == str(APPS / "chdir_app")
    assert r["data"] == "relative file read ok"


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
@pytest.mark.parametrize("app, text", [("wsgi_broken.py", "SyntaxError"),
                                       ("wsgi_import_error.py", "deliberate-import-time-failure"),
                                       ("wsgi_not_callable.py", "not callable")])
def test_broken_app_stops_server(tmp_path, mode, app, text):
    s = Server([*PY_HTTP, "--wsgi-file", str(APPS / app), "--processes", "2", *mode], tmp_path, wait=False)
    try:
        rc = s.proc.wait(timeout=20)
    except Exception:
        s.stop()
        raise
    s.logfile.close()
    log = s.log()
    assert rc != 0, log
    assert text in log, log
    if text != "not callable":
        assert "Traceback" in log, log
    assert log.count("spawned worker") <= 3


def test_missing_module_stops_server(tmp_path):
    s = Server([*PY_HTTP, "--module", "no_such_module_xyz"], tmp_path, wait=False)
    rc = s.proc.wait(timeout=20)
    s.logfile.close()
    assert rc != 0
    assert "ModuleNotFoundError" in s.log()


def test_missing_callable_stops_server(tmp_path):
    s = Server([*app_args("--callable", "nope_not_here")], tmp_path, wait=False)
    rc = s.proc.wait(timeout=20)
    s.logfile.close()
    assert rc != 0
    assert "nope_not_here" in s.log()


RELOAD_APP = '''
import os
VERSION = "{version}"
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %d %d" % (VERSION, os.getpid(), IMPORT_PID)).encode()]
IMPORT_PID = os.getpid()
'''


def wait_body(url, predicate, timeout=15):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = requests.get(url, timeout=5).text
            if predicate(last):
                return last
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.1)
    return last


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_hup_reload_picks_up_new_code(server, tmp_path, mode):
    import signal
    app = tmp_path / "reload_app.py"
    app.write_text(RELOAD_APP.format(version="v1"))
    s = server(*PY_HTTP, "--wsgi-file", str(app), "--processes", "2", *mode)
    assert requests.get(s.url, timeout=5).text.startswith("v1 ")
    # A different size: a same-second, same-size edit could reuse the cached
    # bytecode (CPython's pyc check is mtime+size), which is not under test.
    app.write_text(RELOAD_APP.format(version="v2-new"))
    s.send(signal.SIGHUP)
    body = wait_body(s.url, lambda b: b.startswith("v2-new "))
    assert body.startswith("v2-new "), s.log()
    # Workers are replaced one by one (an old one serves until its successor
    # is ready), so wait for the reload to complete...
    deadline = time.monotonic() + 15
    streak = 0
    while streak < 10 and time.monotonic() < deadline:
        streak = streak + 1 if requests.get(s.url, timeout=5).text.startswith("v2-new ") else 0
    assert streak == 10, s.log()
    # ...after which only the new code answers, and every worker is new.
    pids = set()
    for _ in range(20):
        text = requests.get(s.url, timeout=5).text
        assert text.startswith("v2-new ")
        pids.add(int(text.split()[1]))
    assert pids <= set(s.workers())


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_hup_with_broken_code_keeps_old_generation(server, tmp_path, mode):
    import signal
    app = tmp_path / "reload_app.py"
    app.write_text(RELOAD_APP.format(version="v1"))
    s = server(*PY_HTTP, "--wsgi-file", str(app), "--processes", "2", *mode)
    assert requests.get(s.url, timeout=5).text.startswith("v1 ")
    app.write_text("def application(:\n")
    s.send(signal.SIGHUP)
    assert s.wait_log("SyntaxError", timeout=15), s.log()
    # The master has given the new generation up: what answers now is what
    # keeps answering.
    assert s.wait_log("reload failed", timeout=15), s.log()
    for _ in range(10):
        assert requests.get(s.url, timeout=5).text.startswith("v1 ")
    assert s.proc.poll() is None


def test_term_lets_python_requests_finish_and_runs_atexit(server, tmp_path):
    import signal
    s = server(*app_args("--processes", "1", "--threads", "4"), env={"APP_STATE_DIR": str(tmp_path)}, stats=True)
    worker = s.workers()[0]
    results = []

    def one():
        try:
            results.append(requests.get(s.url + "/sleep?s=1.2", timeout=10).status_code)
        except requests.RequestException as e:
            results.append(repr(e))

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    assert s.wait_in_app(3), f"{s.in_app()} of 3 requests reached the application"
    s.send(signal.SIGTERM)
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert s.proc.wait(timeout=10) == 0
    # The application's atexit handlers ran in the worker (not in the master).
    assert (tmp_path / "atexit.log").read_text().split() == ["atexit", str(worker)]


def test_need_app_false_serves_500s(server):
    s = server(*PY_HTTP, "--need-app=false", "--wsgi-file", str(APPS / "wsgi_broken.py"))
    r = requests.get(s.url + "/", timeout=10)
    assert r.status_code == 500
    assert "SyntaxError" in s.log()
    assert requests.get(s.url + "/", timeout=10).status_code == 500  # and keeps answering


def test_wsgi_file_with_other_suffix(server, tmp_path):
    app = tmp_path / "site.wsgi"
    app.write_text((APPS / "wsgi_app.py").read_text())
    s = server(*PY_HTTP, "--wsgi-file", str(app))
    assert requests.get(s.url + "/hello", timeout=10).text == "Hello from wsgi_app"


def test_relative_wsgi_file_after_chdir(server):
    s = server(*PY_HTTP, "--chdir", str(APPS), "--wsgi-file", "wsgi_app.py")
    assert requests.get(s.url + "/hello", timeout=10).text == "Hello from wsgi_app"


def test_wsgi_file_and_module_together_is_refused(tmp_path):
    s = Server([*app_args("--module", "x")], tmp_path, wait=False)
    assert s.proc.wait(timeout=15) != 0
    s.logfile.close()
    assert "either --wsgi-file or --module" in s.log()
