"""Every accept strategy serves every request exactly once, and a worker
that dies holding the accept lock does not stop the others."""
import concurrent.futures
import http.client
import threading
import time
import uuid

import pytest

from conftest import TEST_PLUGIN_DIR, http_get
from robustness_support import faults

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http", "--processes", "4"]

STRATEGIES = {
    "epollexclusive": [],
    "pthread": ["--lock-engine", "pthread"],
    "thunder-lock": ["--thunder-lock"],
    "flock": ["--lock-engine", "flock"],
    "sem": ["--lock-engine", "sem"],
    "none": ["--lock-engine", "none"],
    "reuse-port": ["--reuse-port"],
}


def post_echo(port, body, keep_alive_requests=1):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        out = []
        for i in range(keep_alive_requests):
            payload = f"{body}-{i}".encode()
            headers = {} if i < keep_alive_requests - 1 else {"Connection": "close"}
            conn.request("POST", "/echo", body=payload, headers=headers)
            r = conn.getresponse()
            out.append((r.status, r.read() == payload))
        return out
    finally:
        conn.close()


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_every_request_is_served_exactly_once(server, strategy):
    s = server(*BASE, *STRATEGIES[strategy])
    connections, per_connection = 300, 4
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: post_echo(s.port, uuid.uuid4().hex, per_connection), range(connections)))
    flat = [r for conn in results for r in conn]
    assert len(flat) == connections * per_connection
    assert all(status == 200 and same for status, same in flat)
    # Served exactly once: one request log line per request sent.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and s.log().count("POST /echo") < len(flat):
        time.sleep(0.05)
    assert s.log().count("POST /echo") == len(flat)


@pytest.mark.parametrize("engine", ["pthread", "flock", "sem"])
def test_a_worker_dying_while_holding_the_lock_does_not_stop_the_others(server, tmp_path, engine):
    trigger = tmp_path / "die-now"
    # A worker calls accept4() only while it holds the accept lock: the
    # first one to do so after the trigger appears dies there, lock held.
    s = server(*BASE[:-1], "2", "--lock-engine", engine, env=faults(f"accept4:die:once:{trigger}"))
    assert post_echo(s.port, "before") == [(200, True)]
    workers = s.workers()
    trigger.touch()
    # The connection that meets the dying worker stays queued, and it and
    # the next ones are served by the other worker (and the respawned one).
    for i in range(40):
        assert post_echo(s.port, f"after-{i}") == [(200, True)]
    assert "accept4() kills the process" in s.log(), s.log()
    assert s.wait_log("was killed by signal 9")
    assert len(set(workers) - set(s.workers())) == 1
    if engine == "pthread":
        assert s.wait_log("lock holder died; lock recovered"), s.log()
    if engine == "sem":
        assert s.wait_log("died holding the lock; released it"), s.log()


@pytest.mark.parametrize("engine", ["pthread", "flock", "sem"])
def test_a_busy_worker_leaves_the_lock_to_an_idle_one(server, engine):
    """While one worker (one thread) is in the application, the other accepts
    every new connection: none waits behind the busy one."""
    s = server(*BASE[:-1], "2", "--lock-engine", engine, stats=True)
    slow = threading.Thread(target=lambda: http_get(s.port, "/sleep/3000"))
    slow.start()
    try:
        assert s.wait_in_app(1)
        served_by = set()
        for _ in range(20):
            status, pid = http_get(s.port, "/pid")
            assert status == 200
            served_by.add(pid)
        # All answered while the slow request still runs, by the other
        # worker: not one of them waited for the busy one.
        assert slow.is_alive(), "a quick request waited behind the busy worker"
        assert len(served_by) == 1
    finally:
        slow.join(15)
