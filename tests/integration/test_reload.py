"""Graceful reload under load: new workers first, old ones drain, nothing
lost. Every request sent during the reloads must succeed."""
import http.client
import os
import signal
import threading
import time

import pytest

from conftest import APPS, wait_until


class Load:
    """Client threads sending requests until stopped; counts every outcome."""

    def __init__(self, port, fresh=3, keep_alive=3):
        self.port = port
        self.stop_flag = threading.Event()
        self.ok = 0
        self.failures = []
        self.versions = set()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.fresh_loop) for _ in range(fresh)]
        self.threads += [threading.Thread(target=self.keep_alive_loop) for _ in range(keep_alive)]

    def record(self, status, body, error=None):
        with self.lock:
            if error is None and status == 200:
                self.ok += 1
                self.versions.add(body)
            else:
                self.failures.append(error or f"status {status}")

    def fresh_loop(self):
        while not self.stop_flag.is_set():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/", headers={"Connection": "close"})
                r = conn.getresponse()
                self.record(r.status, r.read())
            except Exception as e:  # every failure counts
                self.record(0, b"", repr(e))
            finally:
                conn.close()

    def keep_alive_loop(self):
        conn = None
        while not self.stop_flag.is_set():
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                self.record(r.status, r.read())
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:
                self.record(0, b"", repr(e))
                conn.close()
                conn = None
        if conn:
            conn.close()

    def wait_served(self, more, version=None, timeout=20):
        """Waits until `more` further requests succeeded (all answered by
        `version`, if given): proof the load ran on past this moment."""
        with self.lock:
            target = self.ok + more
        if version is not None:
            if not wait_until(lambda: version in self.versions, timeout):
                raise AssertionError(f"no answer from {version!r}; saw {self.versions}, failures {self.failures[:5]}")
            with self.lock:
                target = self.ok + more
        if not wait_until(lambda: self.ok >= target, timeout):
            raise AssertionError(f"the load stalled at {self.ok} requests; failures {self.failures[:5]}")

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(15)


def start(server, tmp_path, *extra, version="v0", **kw):
    vfile = tmp_path / "version"
    vfile.write_text(version)
    s = server("--plugin", "python", "--plugin", "http", "--wsgi-file", str(APPS / "versioned.py"),
               "--processes", "2", *extra, env={"APP_VERSION_FILE": str(vfile)}, **kw)
    return s, vfile


def touch_file(path):
    """Changes `path`'s mtime for sure (the master compares nanoseconds, but
    a coarse clock could give two writes the same time stamp)."""
    before = path.stat().st_mtime_ns
    path.write_text("x")
    if path.stat().st_mtime_ns == before:
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def reload_and_wait(s, count_before):
    s.send(signal.SIGHUP)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if s.log().count("workers are ready") > count_before:
            return
        time.sleep(0.05)
    raise AssertionError("reload did not complete:\n" + s.log())


MODES = {
    "preload": [],
    "lazy": ["--lazy-apps"],
    "threads": ["--threads", "4"],
    "reuse-port": ["--reuse-port"],
}


@pytest.mark.parametrize("mode", list(MODES))
def test_reloads_under_load_lose_nothing_and_serve_new_code(server, tmp_path, mode):
    s, vfile = start(server, tmp_path, *MODES[mode])
    with Load(s.port) as load:
        load.wait_served(20)
        for i in range(1, 4):
            vfile.write_text(f"v{i}")
            reload_and_wait(s, s.log().count("workers are ready"))
            load.wait_served(20, version=f"v{i}".encode())
    if load.failures:
        print("\n".join(l for l in s.log().splitlines() if "GET /" not in l))
    assert load.failures == [], load.failures[:5]
    assert load.ok > 50
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"v3"
    assert s.log().count("generation 4") >= 1


@pytest.mark.parametrize("mode", ["preload", "lazy"])
def test_a_broken_deploy_keeps_the_old_code_serving(server, tmp_path, mode):
    s, vfile = start(server, tmp_path, *MODES[mode])
    with Load(s.port, fresh=2, keep_alive=2) as load:
        vfile.write_text("broken")
        s.send(signal.SIGHUP)
        assert s.wait_log("reload failed", timeout=20), s.log()
        # Requests served after the failed generation was given up: the old
        # one kept serving through it and after it.
        load.wait_served(20)
    assert load.failures == [], load.failures[:5]
    assert load.versions == {b"v0"}
    assert "this deploy is broken on purpose" in s.log()
    # A fixed deploy afterwards goes through.
    vfile.write_text("v2")
    reload_and_wait(s, s.log().count("workers are ready"))
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"v2"


def test_in_flight_request_finishes_during_reload(server, tmp_path):
    s, vfile = start(server, tmp_path, "--processes", "1", stats=True)
    result = {}

    def slow():
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
        conn.request("GET", "/slow")
        r = conn.getresponse()
        result["r"] = (r.status, r.read())

    t = threading.Thread(target=slow)
    t.start()
    assert s.wait_in_app(1), "the slow request never reached the application"
    vfile.write_text("v1")
    s.send(signal.SIGHUP)
    t.join(10)
    assert result["r"] == (200, b"v0")


def test_touch_reload(server, tmp_path):
    touch = tmp_path / "touch-me"
    touch.write_text("")
    s, vfile = start(server, tmp_path, "--touch-reload", str(touch))
    before = s.log().count("workers are ready")
    vfile.write_text("v9")
    touch_file(touch)
    deadline = time.monotonic() + 15
    while s.log().count("workers are ready") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "--touch-reload file changed" in s.log()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"v9"


@pytest.mark.parametrize("trigger", ["signal", "touch"])
def test_chain_reload_replaces_workers_one_at_a_time(server, tmp_path, trigger):
    touch = tmp_path / "chain-touch"
    touch.write_text("")
    s, vfile = start(server, tmp_path, "--processes", "3", "--touch-chain-reload", str(touch))
    before = s.log().count("workers are ready")
    with Load(s.port, fresh=2, keep_alive=2) as load:
        vfile.write_text("v1")
        if trigger == "signal":
            s.send(signal.SIGUSR2)
        else:
            touch_file(touch)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and s.log().count("workers are ready") == before:
            # Never fewer serving workers than configured during the chain.
            assert len(s.workers()) >= 3
            time.sleep(0.05)
    assert load.failures == [], load.failures[:5]
    log = s.log()
    assert "chain reload" in log
    # Worker 2's successor is started only after worker 1's is ready, etc.
    assert log.index("chain reload: replacing worker 2") < log.index("chain reload: replacing worker 3")
    assert "every worker replaced" in log
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"v1"


def test_master_fifo_commands(server, tmp_path):
    fifo = tmp_path / "master.fifo"
    s, vfile = start(server, tmp_path, "--master-fifo", str(fifo))
    vfile.write_text("v7")
    before = s.log().count("workers are ready")
    with open(fifo, "w") as f:
        f.write("r\n")
    deadline = time.monotonic() + 20
    while s.log().count("workers are ready") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "master fifo: 'r': graceful reload" in s.log()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    assert conn.getresponse().read() == b"v7"
    with open(fifo, "w") as f:
        f.write("x")
    assert s.wait_log("master fifo: unknown command 'x'")
    with open(fifo, "w") as f:
        f.write("q")
    s.proc.wait(timeout=15)
    assert s.proc.returncode == 0
