"""Shared helpers for the SDK and packaging tests (tests/sdk).

CTest passes the build's facts in the environment (see CMakeLists.txt); run
by hand with at least TESTS_BUILD_DIR=build-dir, e.g.
    TESTS_BUILD_DIR=build /usr/bin/python3 -m pytest tests/sdk
"""
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = Path(os.environ.get("TESTS_SOURCE_DIR", HERE.parent.parent))
BUILD = Path(os.environ.get("TESTS_BUILD_DIR", SOURCE / "build")).resolve()


def _cache(name, default=""):
    """A value from the build's CMakeCache.txt (when not given by CTest)."""
    try:
        for line in (BUILD / "CMakeCache.txt").read_text().splitlines():
            m = re.match(rf"^{re.escape(name)}:[A-Z]+=(.*)$", line)
            if m:
                return m.group(1)
    except OSError:
        pass
    return default


CMAKE = os.environ.get("TESTS_CMAKE", "cmake")
CPACK = os.environ.get("TESTS_CPACK", "cpack")
GENERATOR = os.environ.get("TESTS_CMAKE_GENERATOR") or _cache("CMAKE_GENERATOR", "Ninja")
CXX = os.environ.get("TESTS_CXX") or _cache("CMAKE_CXX_COMPILER", "c++")
CXX_ID = os.environ.get("TESTS_CXX_ID", "GNU")
INSTALL_PREFIX = os.environ.get("TESTS_INSTALL_PREFIX") or _cache("CMAKE_INSTALL_PREFIX", "/usr/local")
LIBDIR = os.environ.get("TESTS_INSTALL_LIBDIR") or _cache("CMAKE_INSTALL_LIBDIR", "lib")
ARCH_TRIPLET = os.environ.get("TESTS_LIBRARY_ARCHITECTURE", "")
VERSION = os.environ.get("TESTS_VERSION", "0.1.0")
PLUGINS = [p for p in os.environ.get("TESTS_PLUGINS", "python,asgi,http,uwsgi,lock_engines").split(",") if p]


def run(cmd, timeout=300, check=True, **kw):
    """Runs cmd (a list), returns the CompletedProcess; output is text."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, cmd))} exited {proc.returncode}\n"
                             f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}")
    return proc


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A trellis binary serving HTTP on loopback; stopped with stop()."""

    def __init__(self, binary, args, log_path):
        self.port = free_port()
        self.log_path = Path(log_path)
        self.logfile = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(binary), *map(str, args), "--http-socket", f"127.0.0.1:{self.port}"],
                                     stdout=self.logfile, stderr=subprocess.STDOUT, start_new_session=True)
        if not self._wait_ready():
            self.stop()
            raise AssertionError("trellis did not start:\n" + self.log())

    def _wait_ready(self, timeout=20.0):
        # The master binds before it forks: once connect() succeeds, a
        # request waits in the backlog until a worker accepts it.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def log(self):
        return self.log_path.read_text(errors="replace")

    def get(self, path):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode()
        finally:
            conn.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.logfile.close()
        return self.proc.returncode
