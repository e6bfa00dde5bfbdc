"""Integration tests: start the real trellis binary on loopback.

The binary and the build tree come from the environment CTest sets
(TESTS_TRELLIS_BIN, TESTS_BUILD_DIR); run by hand with
    TESTS_TRELLIS_BIN=build/bin/trellis TESTS_BUILD_DIR=build /usr/bin/python3 -m pytest tests/integration
"""
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
BUILD = Path(os.environ.get("TESTS_BUILD_DIR", ROOT / "build"))
BIN = Path(os.environ.get("TESTS_TRELLIS_BIN", BUILD / "bin" / "trellis"))
TEST_PLUGIN_DIR = BUILD / "test-plugins"
APPS = HERE / "apps"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Calls predicate() until it returns a true value or `timeout` seconds
    have passed; returns its last value, so `assert wait_until(...)` fails
    with what was last seen. Tests wait for state this way, never for time."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def fd_target(pid, fd):
    """What /proc says descriptor `fd` of `pid` points at ("" if gone)."""
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


def read_stats(port, timeout=5):
    """The JSON document of a plain --stats server on 127.0.0.1:port."""
    import json
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data)


def wait_for_port(port, proc, timeout=15.0, host="127.0.0.1"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def child_pids(pid, prefix="trellis-w"):
    """Children of `pid` whose process name starts with `prefix` (workers
    are named trellis-w1, trellis-w2, ...; the loader trellis-loader)."""
    try:
        out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    except OSError:
        return []
    pids = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith(prefix):
            pids.append(int(parts[0]))
    return pids


class Server:
    """A running trellis; .log() returns everything it printed so far."""

    def __init__(self, args, tmp_path, env=None, port=None, wait=True, http=True, stats=False):
        self.port = port or free_port()
        self.log_path = tmp_path / f"trellis-{self.port}.log"
        full = [str(BIN)]
        if http:
            full += ["--http-socket", f"127.0.0.1:{self.port}"]
        # stats=True: a plain stats server, so a test can see what the
        # workers are doing (s.stats(), s.wait_in_app()).
        self.stats_port = free_port() if stats else None
        if stats:
            full += ["--stats", f"127.0.0.1:{self.stats_port}"]
        full += list(args)
        self.args = full
        e = dict(os.environ)
        e.update(env or {})
        self.logfile = open(self.log_path, "wb")
        self.proc = subprocess.Popen(full, stdout=self.logfile, stderr=subprocess.STDOUT, env=e,
                                     start_new_session=True)
        if wait and not (wait_for_port(self.port, self.proc) and self.wait_log("workers are ready")):
            self.stop()
            raise RuntimeError("trellis did not start:\n" + self.log())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def workers(self):
        return child_pids(self.proc.pid)

    def children(self):
        return child_pids(self.proc.pid, prefix="")

    def wait_log(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return True
            time.sleep(0.05)
        return False

    def stats(self):
        return read_stats(self.stats_port)

    def in_app(self):
        """How many requests the application is handling now (needs stats=True)."""
        return sum(c["in_request"] for w in self.stats()["workers"] for c in w["cores"])

    def wait_in_app(self, n=1, timeout=10.0):
        """True once `n` requests are inside the application: a signal sent
        or a request made after this happens while they are in flight."""
        return wait_until(lambda: self.in_app() >= n, timeout)

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=15.0):
        if self.proc.poll() is None:
            kids = self.children()
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError("trellis did not stop within %ss:\n%s" % (timeout, self.log()))
            # No worker may outlive the master.
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and any(pid_alive(k) for k in kids):
                time.sleep(0.05)
            left = [k for k in kids if pid_alive(k)]
            assert not left, f"workers left behind: {left}"
        self.logfile.close()
        return self.proc.returncode


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@pytest.fixture
def server(tmp_path):
    """server(args...) starts trellis and stops it (TERM) after the test."""
    started = []

    def start(*args, **kw):
        s = Server(args, tmp_path, **kw)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def http_get(port, path="/", host="127.0.0.1", headers=None, timeout=10):
    import http.client
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
