"""Black-box resource tests: trellis under hostile or extreme traffic.

File-descriptor exhaustion, thousands of idle or half-sent connections,
huge pipelines, multi-hundred-MiB uploads, clients vanishing mid-transfer
or resetting, long runs checked for RSS / fd leaks, applications that block
or leak threads, and the same class of abuse on the uwsgi protocol socket.

Self-contained: every server is started here (TESTS_TRELLIS_BIN names the
binary) on a free loopback port, with its application in tmp_path, and is
stopped (its whole process group, by pid) at the end even on failure.
Measurements are read from /proc/PID/{status,stat,fd} of the workers.

Tests for bugs this review found (since fixed) document them in their names and asserts.
"""
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BIN = Path(os.environ.get("TESTS_TRELLIS_BIN",
                          Path(os.environ.get("TESTS_BUILD_DIR", ROOT / "build")) / "bin" / "trellis"))
CLK_TCK = os.sysconf("SC_CLK_TCK")

APP = r'''
import os, threading, time

def application(env, start_response):
    path = env.get("PATH_INFO", "/")
    if path.startswith("/read"):
        inp = env["wsgi.input"]
        n = 0
        while True:
            b = inp.read(65536)
            if not b:
                break
            n += len(b)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(n).encode()]
    if path.startswith("/big/"):
        n = int(path.rsplit("/", 1)[1])
        start_response("200 OK", [("Content-Length", str(n))])
        chunk = b"x" * 65536
        return (chunk[: min(65536, n - i)] for i in range(0, n, 65536))
    if path == "/leak":
        threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(threading.active_count()).encode()]
    if path == "/block":
        threading.Event().wait()
    if path == "/pid":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [str(os.getpid()).encode()]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [path.encode()]
'''


# --------------------------------------------------------------------------
# helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_children(pid):
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [(int(p), c) for p, c in (line.split(None, 1) for line in out.splitlines() if line.strip())]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def nfds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def nthreads(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def wait_until(predicate, timeout=10.0, interval=0.05):
    """Polls predicate() until it is true or `timeout` passes; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def tcp_sockets():
    """IPv4 TCP sockets from /proc/net/tcp: (local port, remote port, state,
    send queue, receive queue); state 1 is ESTABLISHED, 10 LISTEN."""
    out = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            p = line.split()
            tx, rx = (int(x, 16) for x in p[4].split(":"))
            out.append((int(p[1].rsplit(":", 1)[1], 16), int(p[2].rsplit(":", 1)[1], 16), int(p[3], 16), tx, rx))
    return out


def listen_queue(port):
    """Connections waiting in the kernel for the server to accept them."""
    return sum(rx for lp, _, state, _, rx in tcp_sockets() if lp == port and state == 10)


def server_side(port, clients):
    """The server's ends (state, send queue, receive queue) of the client sockets `clients`."""
    mine = {c.getsockname()[1] for c in clients}
    return [(state, tx, rx) for lp, rp, state, tx, rx in tcp_sockets() if lp == port and rp in mine]


def cpu_percent(pids, seconds):
    before = {p: cpu_ticks(p) for p in pids}
    start = time.monotonic()
    time.sleep(seconds)
    elapsed = time.monotonic() - start
    return {p: 100.0 * (cpu_ticks(p) - before[p]) / CLK_TCK / elapsed for p in pids}


class Trellis:
    def __init__(self, tmp_path, args, http=True, nofile=None):
        self.port = free_port()
        self.tmp_path = tmp_path
        app = tmp_path / "resource_app.py"
        if not app.exists():
            app.write_text(APP)
        sock = ["--plugin", "http", "--http-socket", f"127.0.0.1:{self.port}"] if http else \
               ["--plugin", "uwsgi", "--socket", f"127.0.0.1:{self.port}"]
        self.args = [str(BIN), "--plugin", "python", *sock, "--wsgi-file", str(app), *args]
        self.log_path = tmp_path / f"trellis-{self.port}.log"
        self.logfile = open(self.log_path, "wb")

        def limits():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen(self.args, stdout=self.logfile, stderr=subprocess.STDOUT,
                                     start_new_session=True, preexec_fn=limits)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("trellis exited:\n" + self.log())
            if "workers are ready" in self.log():
                break
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("trellis did not start:\n" + self.log())

    def log(self):
        return self.log_path.read_text(errors="replace")

    def log_size(self):
        return self.log_path.stat().st_size

    def workers(self):
        return sorted(p for p, c in proc_children(self.proc.pid) if c.startswith("trellis-w"))

    def rss(self):
        return {p: rss_kb(p) for p in self.workers()}

    def fds(self):
        return {p: nfds(p) for p in self.workers()}

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left in the process group (workers, loader): by pgid = our child's pid.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.logfile.close()


@pytest.fixture
def start(tmp_path):
    started = []

    def _start(*args, **kw):
        t = Trellis(tmp_path, list(args), **kw)
        started.append(t)
        return t

    yield _start
    for t in started:
        t.stop()


@pytest.fixture(scope="module")
def http_srv(tmp_path_factory):
    t = Trellis(tmp_path_factory.mktemp("http"), ["--processes", "2", "--threads", "4",
                                                  "--header-timeout", "60", "--keepalive-timeout", "60"])
    yield t
    t.stop()


@pytest.fixture(scope="module")
def uwsgi_srv(tmp_path_factory):
    t = Trellis(tmp_path_factory.mktemp("uwsgi"), ["--processes", "2", "--threads", "2",
                                                   "--socket-timeout", "60"], http=False)
    yield t
    t.stop()


def in_app(stats_port):
    """Requests the application is handling now, from the (plain) stats server."""
    with socket.create_connection(("127.0.0.1", stats_port), timeout=5) as s:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return sum(c["in_request"] for w in json.loads(data)["workers"] for c in w["cores"])


def connect(port, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s):
    buf = b""
    try:
        while True:
            d = s.recv(1 << 20)
            if not d:
                break
            buf += d
    except socket.timeout:
        buf += b"<TIMEOUT>"
    except ConnectionResetError:
        buf += b"<RST>"
    return buf


def get_close(port, path=b"/", timeout=5):
    """One request on a fresh connection; returns (raw response, seconds)."""
    t0 = time.monotonic()
    with connect(port, timeout) as s:
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        r = read_all(s)
    return r, time.monotonic() - t0


def rst_close(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def wait_fds_back(srv, baseline, slack=2, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        now = srv.fds()
        if all(now[p] <= baseline[p] + slack for p in baseline) or time.monotonic() > deadline:
            return now
        time.sleep(0.1)


def uwsgi_packet(env, body=b"", modifier1=0):
    v = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(x)) + x for k, x in env.items())
    return struct.pack("<BHB", modifier1, len(v), 0) + v + body


def uwsgi_env(path=b"/", content_length=None, method=b"GET"):
    env = {b"REQUEST_METHOD": method, b"PATH_INFO": path, b"QUERY_STRING": b"", b"SERVER_PROTOCOL": b"HTTP/1.1",
           b"SERVER_NAME": b"x", b"SERVER_PORT": b"80", b"REMOTE_ADDR": b"127.0.0.1"}
    if content_length is not None:
        env[b"REQUEST_METHOD"] = b"POST"
        env[b"CONTENT_LENGTH"] = str(content_length).encode()
    return env


def uwsgi_talk(port, data, shut=True, timeout=5):
    with connect(port, timeout) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        return read_all(s)


class PeakRss:
    """Samples the workers' RSS every 20 ms in a thread; .peak[pid] in kB."""

    def __init__(self, pids):
        self.pids = pids
        self.peak = {p: rss_kb(p) for p in pids}
        self.stop = False
        self.th = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            for p in self.pids:
                try:
                    self.peak[p] = max(self.peak[p], rss_kb(p))
                except OSError:
                    pass
            time.sleep(0.02)

    def __enter__(self):
        self.th.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.th.join()


# --------------------------------------------------------------------------
# file-descriptor exhaustion

def hold_connections(port, n):
    """n connections that each sent a partial head (so the server must accept them)."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(s)
    return socks


def out_of_fds(srv, workers):
    """Every worker at its 128-descriptor limit, and the log says so."""
    return "Too many open files" in srv.log() and all(nfds(p) >= 120 for p in workers)


def test_fd_exhaustion_is_logged_and_the_server_recovers(start):
    srv = start("--processes", "2", "--header-timeout", "60", nofile=128)
    workers = srv.workers()
    base = srv.fds()
    socks = hold_connections(srv.port, 300)
    try:
        wait_until(lambda: out_of_fds(srv, workers), 10)
        assert "Too many open files" in srv.log(), "EMFILE was not logged"
        assert all(nfds(p) >= 120 for p in workers), srv.fds()
    finally:
        for s in socks:
            s.close()
    assert srv.proc.poll() is None and srv.workers() == workers, "a worker or the master died"
    # Once the idle connections are gone, the server serves again and the fds are returned.
    wait_fds_back(srv, base)
    for _ in range(20):
        r, t = get_close(srv.port, b"/pid")
        assert r.startswith(b"HTTP/1.1 200"), r
        assert t < 1.0
    after = wait_fds_back(srv, base)
    assert all(after[p] <= base[p] + 2 for p in base), (base, after)
    idle = cpu_percent(workers, 1.0)
    assert all(v < 10 for v in idle.values()), f"workers busy while idle after recovery: {idle}"


def test_fd_exhaustion_does_not_spin_or_flood_the_log(start):
    srv = start("--processes", "2", "--header-timeout", "60", nofile=128)
    workers = srv.workers()
    socks = hold_connections(srv.port, 300)
    try:
        assert wait_until(lambda: out_of_fds(srv, workers), 10), ("never out of fds", srv.fds(), srv.log()[-2000:])
        size0 = srv.log_size()
        cpu = cpu_percent(workers, 1.0)
        grown = srv.log_size() - size0
    finally:
        for s in socks:
            s.close()
    assert all(v < 30 for v in cpu.values()), f"workers spin while out of fds: {cpu} %CPU"
    assert grown < 100_000, f"log grew by {grown} bytes in 1 s while out of fds"


def test_fd_exhaustion_with_lock_engine_is_logged_without_spinning(start):
    srv = start("--processes", "2", "--header-timeout", "60", "--lock-engine", "flock", nofile=128)
    workers = srv.workers()
    socks = hold_connections(srv.port, 300)
    try:
        assert wait_until(lambda: out_of_fds(srv, workers), 10), ("never out of fds", srv.fds(), srv.log()[-2000:])
        cpu = cpu_percent(workers, 1.0)
    finally:
        for s in socks:
            s.close()
    log = srv.log()
    assert "Too many open files" in log, "fd exhaustion was not logged"
    assert all(v < 30 for v in cpu.values()), f"workers spin while out of fds: {cpu} %CPU"


# --------------------------------------------------------------------------
# thousands of idle / half-sent connections, pipelines, floods (HTTP)

def test_2000_idle_and_half_requests_do_not_delay_others(http_srv):
    srv = http_srv
    base_fds, base_rss = srv.fds(), srv.rss()
    socks = []
    try:
        for i in range(2000):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            k = i % 4
            if k == 0:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-A: ")            # half head
            elif k == 1:
                s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + b"a" * 1000)
            elif k == 2:
                s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n" + b"a" * 1000)
            socks.append(s)                                                   # k == 3: silent
        # The workers have taken in what was sent: nothing waits to be
        # accepted (the silent ones wait in the kernel: TCP_DEFER_ACCEPT).
        wait_until(lambda: listen_queue(srv.port) == 0 and
                   sum(srv.fds().values()) - sum(base_fds.values()) >= 1400, 10)
        held = srv.fds()
        assert sum(held.values()) - sum(base_fds.values()) >= 1400, held
        lat = []
        for _ in range(50):
            r, t = get_close(srv.port)
            assert r.startswith(b"HTTP/1.1 200"), r
            lat.append(t)
        assert max(lat) < 0.5, f"fresh requests behind 2000 idle connections: max {max(lat):.3f}s"
        rss = srv.rss()
        growth = sum(rss.values()) - sum(base_rss.values())
        assert growth < 100 * 1024, f"2000 idle connections cost {growth} kB"
        cpu = cpu_percent(srv.workers(), 0.5)
        assert all(v < 20 for v in cpu.values()), cpu
    finally:
        for s in socks:
            s.close()
    after = wait_fds_back(srv, base_fds)
    assert all(after[p] <= base_fds[p] + 2 for p in base_fds), (base_fds, after)


def test_10000_pipelined_requests_in_one_send_are_answered_in_order(http_srv):
    srv = http_srv
    base = srv.rss()
    n = 10000
    with connect(srv.port, timeout=20) as s:
        data = b"".join(b"GET /p%d HTTP/1.1\r\nHost: x\r\n\r\n" % i for i in range(n))
        s.sendall(data + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        buf = read_all(s)
    assert buf.count(b"HTTP/1.1 200 OK") == n + 1
    bodies = [part.rsplit(b"\r\n\r\n", 1)[-1] for part in buf.split(b"HTTP/1.1 200 OK")[1:]]
    assert bodies == [b"/p%d" % i for i in range(n)] + [b"/last"]
    growth = sum(srv.rss().values()) - sum(base.values())
    assert growth < 20 * 1024, f"RSS grew {growth} kB for 10000 pipelined requests"


def test_pipelined_flood_that_never_reads_is_backpressured(http_srv):
    """The client writes requests for 64 KiB responses and never reads: the
    worker must stop reading (bounded memory), not buffer the answers."""
    srv = http_srv
    base = srv.rss()
    req = b"GET /big/65536 HTTP/1.1\r\nHost: x\r\n\r\n" * 500
    s = connect(srv.port, timeout=0.5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sent = 0
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < 3:
            sent += s.send(req)
    except socket.timeout:
        pass
    # The worker stopped reading (bytes wait unread on its side) rather
    # than buffering answers; a server that kept reading gets the whole
    # deadline to grow before it is measured.
    wait_until(lambda: any(rx > 0 for _, _, rx in server_side(srv.port, [s])), 5)
    growth = sum(srv.rss().values()) - sum(base.values())
    rst_close(s)
    assert growth < 60 * 1024, f"RSS grew {growth} kB while a client did not read ({sent} bytes of requests)"
    r, _ = get_close(srv.port)
    assert r.startswith(b"HTTP/1.1 200")


# --------------------------------------------------------------------------
# big uploads: spooled, not held; apps that do not read

def chunked_upload(port, path, total, then=None):
    with connect(port, timeout=60) as s:
        s.sendall(b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        piece = b"%x\r\n" % (1 << 20) + b"a" * (1 << 20) + b"\r\n"
        for _ in range(total >> 20):
            s.sendall(piece)
        s.sendall(b"0\r\n\r\n" + (then or b""))
        return read_all(s)


def test_300mib_chunked_upload_is_spooled_not_held_in_memory(http_srv):
    srv = http_srv
    total = 300 << 20
    base = srv.rss()
    with PeakRss(srv.workers()) as mon:
        r = chunked_upload(srv.port, b"/read", total, then=b"GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert r.count(b"HTTP/1.1 200") == 2, r[-300:]
    assert str(total).encode() in r and r.endswith(b"/x"), r[-300:]
    for p, peak in mon.peak.items():
        assert peak - base[p] < 40 * 1024, f"worker {p} RSS peaked {peak - base[p]} kB above base for a 300 MiB body"


def test_300mib_chunked_upload_to_an_app_that_never_reads(http_srv):
    srv = http_srv
    base = srv.rss()
    base_fds = srv.fds()
    with PeakRss(srv.workers()) as mon:
        r = chunked_upload(srv.port, b"/noread", 300 << 20,
                           then=b"GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    # Either the pipelined request is answered or the connection is closed: never a mixed-up stream.
    assert r.startswith(b"HTTP/1.1 200") and b"/noread" in r, r[:300]
    assert r.endswith(b"/after") or r.count(b"HTTP/1.1") == 1, r[-300:]
    for p, peak in mon.peak.items():
        assert peak - base[p] < 40 * 1024
    after = wait_fds_back(srv, base_fds)
    assert all(after[p] <= base_fds[p] + 2 for p in base_fds), (base_fds, after)


@pytest.mark.parametrize("proto", ["http", "uwsgi"])
def test_many_slow_bodies_under_post_buffering_have_bounded_memory(start, proto):
    srv = start("--processes", "1", "--socket-timeout", "60", "--header-timeout", "60", http=(proto == "http"))
    base = sum(srv.rss().values())
    socks = []
    try:
        for _ in range(500):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            if proto == "http":
                s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" + b"a" * 1000000)
            else:
                s.sendall(uwsgi_packet(uwsgi_env(b"/read", 1048576), b"a" * 1000000))
            socks.append(s)
        # Every connection accepted and every byte sent taken in by the
        # server (spooled or held): only then does its RSS tell.
        wait_until(lambda: listen_queue(srv.port) == 0 and
                   (ends := server_side(srv.port, socks)) and len(ends) == len(socks) and
                   all(rx == 0 for _, _, rx in ends), 10)
        growth = sum(srv.rss().values()) - base
        r, t = get_close(srv.port) if proto == "http" else (uwsgi_talk(srv.port, uwsgi_packet(uwsgi_env())), 0)
        assert r.startswith(b"HTTP/1.1 200"), r[:200]
    finally:
        for s in socks:
            s.close()
    assert growth < 128 * 1024, f"500 slow 1 MB bodies cost {growth // 1024} MB of worker RSS"


# --------------------------------------------------------------------------
# disconnects, resets, leaks

def test_disconnects_mid_upload_and_mid_download_leak_no_fds(http_srv):
    srv = http_srv
    base = srv.fds()
    for i in range(40):
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            n = (5 << 20) if i % 2 else 100000          # spooled or in memory
            s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % n + b"a" * (n // 2))
            if i % 4 == 3:
                rst_close(s)
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(b"POST /read HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                  (b"100000\r\n" + b"a" * (1 << 20) + b"\r\n") * 3)
        rst_close(s) if i % 2 else s.close()
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        s.sendall(b"GET /big/%d HTTP/1.1\r\nHost: x\r\n\r\n" % (50 << 20))
        s.recv(10000)
        rst_close(s) if i % 2 else s.close()
    after = wait_fds_back(srv, base)
    assert all(after[p] <= base[p] + 2 for p in base), (base, after)
    r, t = get_close(srv.port)
    assert r.startswith(b"HTTP/1.1 200") and t < 1.0
    assert srv.proc.poll() is None


def test_rst_right_after_the_request_leaks_nothing(http_srv):
    srv = http_srv
    base_fds = srv.fds()

    def burst():
        for i in range(1000):
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(b"GET /big/%d HTTP/1.1\r\nHost: x\r\n\r\n" % ((i % 4) * 65536))
            rst_close(s)
    burst()
    wait_fds_back(srv, base_fds)
    mid = srv.rss()
    for _ in range(3):
        burst()
    after = wait_fds_back(srv, base_fds)
    assert all(after[p] <= base_fds[p] + 2 for p in base_fds), (base_fds, after)
    end = srv.rss()
    for p in mid:
        assert end[p] - mid[p] < 4 * 1024, f"worker {p} RSS {mid[p]} -> {end[p]} kB over 3000 reset requests"
    r, _ = get_close(srv.port)
    assert r.startswith(b"HTTP/1.1 200")


def keepalive_requests(port, n, conns=4, batch=10):
    socks = [connect(port) for _ in range(conns)]
    req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * batch
    for _ in range(n // conns // batch):
        for s in socks:
            s.sendall(req)
        for s in socks:
            buf = b""
            while buf.count(b"HTTP/1.1 200") < batch:
                d = s.recv(65536)
                assert d, "connection closed mid keep-alive run"
                buf += d
    for s in socks:
        s.close()


def close_requests(port, n):
    req = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(req)
            while s.recv(65536):
                pass


def test_rss_and_fds_stable_over_100k_keepalive_and_20k_close_requests(start):
    srv = start("--processes", "2", "--threads", "4", "--disable-logging")
    keepalive_requests(srv.port, 20000)      # warm-up
    close_requests(srv.port, 2000)
    base, base_fds = srv.rss(), srv.fds()
    keepalive_requests(srv.port, 100000)
    mid = srv.rss()
    close_requests(srv.port, 20000)
    end = srv.rss()
    for p in base:
        assert mid[p] - base[p] < 3 * 1024, f"worker {p}: {base[p]} -> {mid[p]} kB over 100k keep-alive requests"
        assert end[p] - mid[p] < 3 * 1024, f"worker {p}: {mid[p]} -> {end[p]} kB over 20k close requests"
    after = wait_fds_back(srv, base_fds, slack=0)
    assert after == base_fds


# --------------------------------------------------------------------------
# misbehaving applications

def test_blocked_workers_and_a_thread_leaking_app_do_not_stop_the_others(start):
    stats = free_port()
    srv = start("--processes", "2", "--threads", "2", "--stats", f"127.0.0.1:{stats}")
    blockers = []
    try:
        # Enough blocked requests to fill at least one worker's threads,
        # each one inside the application before the next.
        for i in range(3):
            s = connect(srv.port)
            s.sendall(b"GET /block HTTP/1.1\r\nHost: x\r\n\r\n")
            blockers.append(s)
            assert wait_until(lambda: in_app(stats) == i + 1), f"{in_app(stats)} of {i + 1} blocked requests in the app"
        lat = []
        for _ in range(30):
            r, t = get_close(srv.port, b"/pid", timeout=3)
            assert r.startswith(b"HTTP/1.1 200"), r
            lat.append(t)
        assert max(lat) < 1.0
        # A thread leaked per request: the worker keeps answering, threads pile up in the app only.
        for _ in range(1500):
            r, _ = get_close(srv.port, b"/leak", timeout=5)
            assert r.startswith(b"HTTP/1.1 200"), r
        assert max(nthreads(p) for p in srv.workers()) > 1000
        r, t = get_close(srv.port, b"/pid")
        assert r.startswith(b"HTTP/1.1 200") and t < 1.0
        assert srv.proc.poll() is None
    finally:
        for s in blockers:
            s.close()


# --------------------------------------------------------------------------
# uwsgi protocol socket

UWSGI_BAD = {
    "garbage": (os.urandom(4000), None),
    "three_bytes": (b"\xff\xff\xff", "packet head after 3 of 4 bytes"),
    "truncated_head": (b"\x00\x10", "packet head after 2 of 4 bytes"),
    "truncated_vars": (uwsgi_packet(uwsgi_env())[:30], "after 30 of"),
    "vars_size_lies": (struct.pack("<BHB", 0, 60000, 0) + b"\x05\x00abcde\x03\x00xyz", "exceeds buffer-size"),
    "oversize_vars": (uwsgi_packet({**uwsgi_env(), b"X": b"a" * 60000}), "exceeds buffer-size"),
    "bad_inner_len": (struct.pack("<BHB", 0, 10, 0) + b"\xff\xff" + b"a" * 8, "malformed vars block"),
    "huge_cl_short_body": (uwsgi_packet(uwsgi_env(b"/read", 10 ** 18), b"abc"), "3 of 1000000000000000000 body bytes"),
    "negative_cl": (uwsgi_packet(uwsgi_env(b"/read", -5), b"abc"), 'invalid CONTENT_LENGTH "-5"'),
    "junk_cl": (uwsgi_packet({**uwsgi_env(b"/read"), b"CONTENT_LENGTH": b"12abc"}, b"abc"), "invalid CONTENT_LENGTH"),
    "unknown_modifier1": (uwsgi_packet(uwsgi_env(), modifier1=99), "no runtime serves modifier1 99"),
}


@pytest.mark.parametrize("case", sorted(UWSGI_BAD))
def test_uwsgi_bad_packets_are_refused_logged_and_serving_continues(uwsgi_srv, case):
    srv = uwsgi_srv
    data, needle = UWSGI_BAD[case]
    before = srv.log_size()
    t0 = time.monotonic()
    r = uwsgi_talk(srv.port, data)
    assert time.monotonic() - t0 < 2.0, "a refused packet was not answered/closed promptly"
    assert b"HTTP/1.1 200" not in r and b"<TIMEOUT>" not in r, r[:200]
    if needle:
        def logged():
            with open(srv.log_path, "rb") as f:
                f.seek(before)
                return needle.encode() in f.read()
        assert wait_until(logged, 5), f"no log line containing {needle!r}"
    ok = uwsgi_talk(srv.port, uwsgi_packet(uwsgi_env(b"/fine")))
    assert ok.startswith(b"HTTP/1.1 200") and ok.endswith(b"/fine"), ok


def test_uwsgi_thousands_of_half_packets_do_not_block_others(uwsgi_srv):
    srv = uwsgi_srv
    base = srv.fds()
    full = uwsgi_packet(uwsgi_env(b"/read", 5 << 20), b"a" * 500)
    socks = []
    try:
        for i in range(3000):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
            k = i % 3
            s.sendall(full[:2] if k == 0 else full[:40] if k == 1 else full)
            socks.append(s)
        wait_until(lambda: listen_queue(srv.port) == 0 and sum(srv.fds().values()) - sum(base.values()) >= 2900, 10)
        assert sum(srv.fds().values()) - sum(base.values()) >= 2900
        lat = []
        for i in range(50):
            t0 = time.monotonic()
            r = uwsgi_talk(srv.port, uwsgi_packet(uwsgi_env(b"/ok%d" % i)), shut=False)
            lat.append(time.monotonic() - t0)
            assert r.endswith(b"/ok%d" % i), r
        assert max(lat) < 0.5, f"max latency {max(lat):.3f}s behind 3000 half packets"
    finally:
        for s in socks:
            s.close()
    after = wait_fds_back(srv, base)
    assert all(after[p] <= base[p] + 2 for p in base), (base, after)


def test_uwsgi_disconnects_and_resets_mid_body_leak_nothing(uwsgi_srv):
    srv = uwsgi_srv
    base = srv.fds()
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", srv.port))
        n = (3 << 20) if i % 2 else 100000
        s.sendall(uwsgi_packet(uwsgi_env(b"/read", n), b"a" * (n // 2)))
        rst_close(s) if i % 3 == 0 else s.close()
    for i in range(300):
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(uwsgi_packet(uwsgi_env(b"/big/%d" % (i % 3 * 200000))))
        rst_close(s)
    after = wait_fds_back(srv, base)
    assert all(after[p] <= base[p] + 2 for p in base), (base, after)
    r = uwsgi_talk(srv.port, uwsgi_packet(uwsgi_env(b"/alive")))
    assert r.endswith(b"/alive")


def test_uwsgi_big_body_is_spooled(uwsgi_srv):
    srv = uwsgi_srv
    total = 200 << 20
    base = srv.rss()
    with PeakRss(srv.workers()) as mon:
        with connect(srv.port, timeout=60) as s:
            s.sendall(uwsgi_packet(uwsgi_env(b"/read", total)))
            block = b"a" * (1 << 20)
            for _ in range(total >> 20):
                s.sendall(block)
            r = read_all(s)
    assert r.startswith(b"HTTP/1.1 200") and r.endswith(str(total).encode()), r[-200:]
    for p, peak in mon.peak.items():
        assert peak - base[p] < 40 * 1024, f"worker {p} RSS peaked {peak - base[p]} kB above base"


# --------------------------------------------------------------------------
# an upload abandoned mid-body leaves a trace in the log

@pytest.mark.parametrize("proto,size", [
    ("http", 100000),
    ("http", 5 << 20),
    ("uwsgi", 100000),
    ("uwsgi", 5 << 20),
])
def test_client_abandoning_a_body_is_logged(start, proto, size):
    srv = start("--processes", "1", http=(proto == "http"))
    if proto == "http":
        data = b"POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + b"a" * 500
    else:
        data = uwsgi_packet(uwsgi_env(b"/read", size), b"a" * 500)
    before = srv.log_size()

    def new_log():
        with open(srv.log_path, "rb") as f:
            f.seek(before)
            return f.read().decode(errors="replace")

    with socket.create_connection(("127.0.0.1", srv.port)) as s:
        s.sendall(data)
        # The server has read what came (its end holds nothing unread):
        # the client leaves mid-body, not before its request was seen.
        assert wait_until(lambda: (ends := server_side(srv.port, [s])) and ends[0][2] == 0, 5), \
            server_side(srv.port, [s])
    assert wait_until(lambda: "500" in new_log() and str(size) in new_log(), 5), \
        f"no log line for a request abandoned after 500 of {size} body bytes"
    # One worker, one thread: once a later request is answered, an
    # application call for the abandoned one would have ended and been logged.
    if proto == "http":
        r, _ = get_close(srv.port, b"/later")
        assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"/later"), r
    else:
        r = uwsgi_talk(srv.port, uwsgi_packet(uwsgi_env(b"/later")))
        assert r.startswith(b"HTTP/1.1 200") and r.endswith(b"/later"), r
    assert "POST /read =>" not in new_log(), "an incomplete request reached the application"
