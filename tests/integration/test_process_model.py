"""Master supervision with the C++ test runtime (no Python needed)."""
import os
import signal
import socket
import threading
import time

import pytest

from conftest import TEST_PLUGIN_DIR, http_get, pid_alive, wait_until

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]


def worker_pid(port):
    status, body = http_get(port, "/pid")
    assert status == 200
    return int(body)


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_serves_and_stops_cleanly_on_term(server, mode):
    s = server(*BASE, "--processes", "2", *mode)
    assert http_get(s.port, "/") == (200, b"Hello World!")
    assert len(s.workers()) == 2
    assert s.stop() == 0


def test_sigint_stops_everything_at_once(server):
    s = server(*BASE, "--processes", "2")
    kids = s.workers()
    # Ctrl-C reaches the whole foreground process group.
    os.killpg(s.proc.pid, signal.SIGINT)
    s.proc.wait(timeout=10)

    def alive():
        return [k for k in kids if pid_alive(k)]

    assert wait_until(lambda: not alive(), timeout=3), f"workers still alive after SIGINT: {alive()}"


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_killed_worker_is_replaced_and_others_keep_serving(server, mode):
    s = server(*BASE, "--processes", "2", *mode)
    before = set(s.workers())
    victim = worker_pid(s.port)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 1.0
    replaced = False
    while time.monotonic() < deadline:
        now = set(s.workers())
        if victim not in now and len(now) == 2:
            replaced = True
            break
        time.sleep(0.02)
    assert replaced, s.log()
    # Every request in the meantime is answered.
    for _ in range(20):
        assert http_get(s.port, "/")[0] == 200
    assert s.wait_log(f"pid {victim}) died unexpectedly: it was killed by signal 9 (SIGKILL)")
    assert len(before) == 2


def test_crashing_app_is_logged_and_the_worker_respawned(server):
    s = server(*BASE, "--processes", "1")
    old = worker_pid(s.port)
    with pytest.raises(Exception):
        http_get(s.port, "/crash", timeout=5)
    assert s.wait_log("SIGABRT")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            new = worker_pid(s.port)
            break
        except OSError:
            time.sleep(0.05)
    assert new != old


def test_term_lets_a_slow_request_finish(server):
    s = server(*BASE, "--processes", "1", stats=True)
    result = {}

    def slow():
        result["r"] = http_get(s.port, "/sleep/1500", timeout=10)

    t = threading.Thread(target=slow)
    t.start()
    assert s.wait_in_app(1), "the slow request never reached the application"
    s.send(signal.SIGTERM)
    t.join(10)
    assert result.get("r") == (200, b"slept")
    s.proc.wait(timeout=10)
    assert s.proc.returncode == 0


def test_harakiri_kills_a_stuck_worker(server):
    s = server(*BASE, "--processes", "1", "--harakiri", "1")
    with pytest.raises(Exception):
        http_get(s.port, "/sleep/5000", timeout=10)
    assert s.wait_log("HARAKIRI"), s.log()
    assert "GET /sleep/5000" in s.log()
    assert http_get(s.port, "/")[0] == 200


def test_max_requests_recycles_a_worker(server):
    s = server(*BASE, "--processes", "1", "--max-requests", "5")
    first = worker_pid(s.port)
    pids = {first}
    for _ in range(15):
        for _ in range(50):
            try:
                pids.add(worker_pid(s.port))
                break
            except OSError:
                time.sleep(0.05)
    assert len(pids) >= 2, s.log()
    assert s.wait_log("--max-requests")


@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_app_that_cannot_load_stops_the_server(tmp_path, mode):
    from conftest import Server
    s = Server(BASE + ["--testapp-fail-load", "--processes", "2"] + mode, tmp_path, wait=False)
    s.proc.wait(timeout=15)
    assert s.proc.returncode != 0
    log = s.log()
    assert "refusing to load" in log
    assert "the application could not be loaded" in log
    assert log.count("spawned worker") <= 3  # no respawn loop


def test_ttin_and_ttou_change_the_worker_count(server):
    s = server(*BASE, "--processes", "1")
    s.send(signal.SIGTTIN)
    assert s.wait_log("SIGTTIN: adding worker 2")
    deadline = time.monotonic() + 5
    while len(s.workers()) != 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(s.workers()) == 2
    s.send(signal.SIGTTOU)
    deadline = time.monotonic() + 5
    while len(s.workers()) != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(s.workers()) == 1


def test_unix_socket_with_chmod_and_vacuum(server, tmp_path):
    path = tmp_path / "app.sock"
    s = server(*BASE, "--http-socket", str(path), "--chmod-socket", "660", "--vacuum")
    assert oct(path.stat().st_mode & 0o777) == "0o660"
    c = socket.socket(socket.AF_UNIX)
    c.connect(str(path))
    c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while chunk := c.recv(4096):
        data += chunk
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"Hello World!")
    s.stop()
    assert not path.exists()


def test_ipv6_loopback(server):
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    from conftest import free_port
    port = free_port()
    s = server(*BASE, "--http-socket", f"[::1]:{port}", http=True)
    with socket.create_connection(("::1", port), timeout=5) as c:
        c.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(4096):
            data += chunk
    assert data.endswith(b"Hello World!")


def test_pidfile(server, tmp_path):
    pidfile = tmp_path / "trellis.pid"
    s = server(*BASE, "--pidfile", str(pidfile), "--vacuum")
    assert int(pidfile.read_text()) == s.proc.pid
    s.stop()
    assert not pidfile.exists()


@pytest.mark.parametrize("strategy", [[], ["--lock-engine", "pthread"]], ids=["epollexclusive", "lock"])
def test_busy_threaded_workers_leave_new_connections_to_free_ones(server, strategy):
    # 4 workers x 4 threads = 16 application threads: 16 one-second requests
    # at once finish together, instead of queueing behind the first worker
    # that happened to accept them.
    import concurrent.futures
    s = server(*BASE, "--processes", "4", "--threads", "4", *strategy)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: http_get(s.port, "/sleep/1000", timeout=15), range(16)))
    elapsed = time.monotonic() - start
    assert all(r == (200, b"slept") for r in results)
    assert elapsed < 1.9, f"16 requests took {elapsed:.2f} s on 16 threads"
