"""Black-box acceptance tests of the process model, configuration and
signals, written from the outside, as an operator used to uWSGI, gunicorn
and nginx would check a new application server: real uWSGI ini files,
precedence, startup errors, signals, crashes, harakiri, recycling, logs and
the stats server.

Self-contained: each test starts the binary named by TESTS_TRELLIS_BIN on
free loopback ports with a small WSGI application written into tmp_path,
and stops everything it started, even when it fails. Tests for bugs this
review found (since fixed) say so.
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BUILD = Path(os.environ.get("TESTS_BUILD_DIR", HERE.parent.parent / "build"))
BIN = Path(os.environ.get("TESTS_TRELLIS_BIN", BUILD / "bin" / "trellis"))
PY = ["--plugin", "python", "--plugin", "http"]

APP = r'''
import os, sys, time

def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/pid":
        body = str(os.getpid()).encode()
    elif path.startswith("/sleep/"):
        time.sleep(float(path.split("/")[2]))
        body = b"slept"
    elif path == "/exit":
        os._exit(3)
    elif path == "/print":
        print("PRINTED-BY-APP", flush=True)
        sys.stderr.write("STDERR-BY-APP\n")
        sys.stderr.flush()
        os.write(2, b"FD2-BY-APP\n")
        body = b"printed"
    else:
        body = b"ok"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
'''

# Imports slowly when the file DELAY_FILE names holds a number of seconds:
# a Django project that connects to its database at import, say.
SLOW_IMPORT_APP = r'''
import os, time
try:
    delay = float(open(os.environ["DELAY_FILE"]).read())
except (FileNotFoundError, ValueError):
    delay = 0
if delay:
    # Tells the test that the import is under way.
    with open(os.environ["DELAY_FILE"] + ".importing", "a") as f:
        f.write("%d\n" % os.getpid())
    time.sleep(delay)

def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
'''


# ---------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRELLIS_", "UWSGI_"))}
    env.update(extra or {})
    return env


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children(pid):
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [(int(p), c) for p, c in (line.split(None, 1) for line in out.splitlines() if line.strip())]


def worker_pids(pid):
    return [p for p, c in children(pid) if c.startswith("trellis-w")]


def wait_until(predicate, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def get(port, path="/", timeout=10, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {"Connection": "close"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def read_stats(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return json.loads(data)


def in_app(stats_port):
    """Requests the application is handling now, from the stats server."""
    return sum(c["in_request"] for w in read_stats(stats_port)["workers"] for c in w["cores"])


def fd_target(pid, fd):
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return ""


def run(args, env=None, cwd=None, timeout=20):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=clean_env(env), cwd=cwd,
                          timeout=timeout)


class Trellis:
    """One trellis started in its own session; stdout and stderr go to
    separate files so a test can tell where each line went."""

    def __init__(self, args, tmp_path, env=None, cwd=None, port=None):
        self.port = port
        tag = f"{len(list(tmp_path.glob('stderr-*')))}"
        self.out_path = tmp_path / f"stdout-{tag}.txt"
        self.err_path = tmp_path / f"stderr-{tag}.txt"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen([str(BIN), *args], stdout=self._out, stderr=self._err, env=clean_env(env),
                                     cwd=cwd, start_new_session=True)
        self.known = set()

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        return self.out_path.read_text(errors="replace") + self.err_path.read_text(errors="replace")

    def log(self):
        return self.err_path.read_text(errors="replace")

    def wait_log(self, text, timeout=10, count=1):
        return wait_until(lambda: self.log().count(text) >= count, timeout)

    def wait_ready(self, timeout=15, count=1):
        ok = wait_until(lambda: self.proc.poll() is not None or self.log().count("workers are ready") >= count,
                        timeout)
        assert ok and self.proc.poll() is None, "trellis did not become ready:\n" + self.output()
        self.remember()
        return self

    def remember(self):
        self.known.update(p for p, _ in children(self.pid))

    def send(self, sig):
        self.remember()
        os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill_all(self):
        """Last resort: the whole session, whatever state it is in."""
        self.remember()
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        for p in self.known:
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def stop(self, timeout=15):
        if self.proc.poll() is None:
            self.send(signal.SIGTERM)
            if self.wait_exit(timeout) is None:
                self.kill_all()
                raise AssertionError("trellis did not stop on SIGTERM:\n" + self.output())
        self.close()
        return self.proc.returncode

    def close(self):
        self._out.close()
        self._err.close()


@pytest.fixture
def start(tmp_path):
    started = []

    def _start(args, wait=True, **kw):
        t = Trellis(args, tmp_path, **kw)
        started.append(t)
        if wait:
            t.wait_ready()
        return t

    yield _start
    for t in started:
        try:
            if t.proc.poll() is None:
                t.send(signal.SIGINT)
                if t.wait_exit(5) is None:
                    t.kill_all()
            # No worker or loader may outlive the test.
            wait_until(lambda: not any(pid_alive(p) for p in t.known), 3)
        finally:
            for p in t.known:
                if pid_alive(p):
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            t.close()


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "app.py"
    path.write_text(APP)
    return path


def serve(start, app, *extra, port=None, **kw):
    port = port or free_port()
    t = start([*PY, "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(app), *extra], **kw)
    t.port = port
    return t


# ------------------------------------------------ configuration: uWSGI ini

def test_typical_production_uwsgi_ini(start, tmp_path):
    site = tmp_path / "site"
    (site / "proj").mkdir(parents=True)
    (site / "proj" / "__init__.py").write_text("")
    (site / "proj" / "wsgi.py").write_text(
        "import os\n\ndef app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [('%s|%s' % (os.getcwd(), os.environ.get('DJANGO_SETTINGS_MODULE'))).encode()]\n")
    port = free_port()
    ini = site / "mysite.ini"
    ini.write_text(f"""# deployed by ansible
[uwsgi]
; the python3 plugin of Debian's uwsgi package
plugins = python3
chdir = %d
module = proj.wsgi
callable = app
master = true
processes = 2
threads = 2
enable-threads = true
http-socket = 127.0.0.1:{port}
vacuum = true
die-on-term = true
harakiri = 30
max-requests = 1000
buffer-size = 32768
lazy-apps = yes
env = DJANGO_SETTINGS_MODULE=proj.settings
pidfile = {tmp_path}/%n.pid
logto = {tmp_path}/%n.log

[other-tool]
this section = is not ours
""")
    t = start([str(ini)], wait=False)
    logfile = tmp_path / "mysite.log"
    assert wait_until(lambda: logfile.exists() and "workers are ready" in logfile.read_text(), 15), t.output()
    t.remember()
    assert get(port, "/") == (200, f"{site}|proj.settings".encode())
    pidfile = tmp_path / "mysite.pid"
    assert int(pidfile.read_text()) == t.pid
    assert len(worker_pids(t.pid)) == 2
    assert wait_until(lambda: "GET / => 200" in logfile.read_text(), 5)
    # What trellis does not support is named, not silently dropped.
    assert "die-on-term" in t.output() and "enable-threads" in t.output()
    assert t.stop() == 0
    assert not pidfile.exists()


@pytest.mark.parametrize("true_word", ["true", "1", "yes", "on", "True", "YES"])
def test_ini_boolean_spellings(tmp_path, true_word):
    ini = tmp_path / "b.ini"
    ini.write_text(f"[uwsgi]\nmaster = {true_word}\nlazy-apps = {true_word}\nvacuum = false\n")
    r = run([*PY, "--wsgi-file", "x.py", "--http-socket", "127.0.0.1:1", str(ini), "--show-config"])
    assert r.returncode == 0, r.stderr
    assert "lazy-apps = true" in r.stdout and "vacuum = false" in r.stdout


def test_precedence_command_line_environment_ini(tmp_path):
    a = tmp_path / "a.ini"
    a.write_text("[uwsgi]\nprocesses = 2\nthreads = 3\nharakiri = 5\nmax-requests = 10\nlazy-apps = true\n")
    b = tmp_path / "b.ini"
    b.write_text("[uwsgi]\nmax-requests = 20\n")
    r = run([*PY, "--wsgi-file", "x.py", "--http-socket", "127.0.0.1:1", str(a), str(b), "--processes", "4",
             "--show-config"],
            env={"TRELLIS_THREADS": "6", "UWSGI_THREADS": "5", "UWSGI_HARAKIRI": "9", "TRELLIS_LAZY_APPS": "no"})
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "processes = 4" in out          # command line beats ini
    assert "threads = 6" in out            # TRELLIS_* beats UWSGI_* beats ini
    assert "harakiri = 9" in out           # environment beats ini
    assert "max-requests = 20" in out      # the later ini file wins
    assert "lazy-apps = false" in out      # a flag turned off from the environment


@pytest.mark.parametrize("args, env, needle", [
    (["--procesess", "2"], {}, "unknown option '--procesess'"),
    (["--processes", "two"], {}, "invalid integer 'two' for option 'processes'"),
    (["--processes", "0"], {}, "--processes"),
    (["--harakiri", "-1"], {}, "--harakiri"),
    ([], {"TRELLIS_PROCESSSES": "3"}, "TRELLIS_PROCESSSES"),
    (["--log-level", "loud"], {}, "--log-level"),
], ids=["typo", "not-an-integer", "zero-processes", "negative-harakiri", "env-typo", "bad-log-level"])
def test_bad_options_are_refused_by_name(app, args, env, needle):
    r = run([*PY, "--wsgi-file", str(app), "--http-socket", f"127.0.0.1:{free_port()}", *args], env=env)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
    if "typo" in needle or "procesess" in needle:
        assert "did you mean" in r.stderr


def test_typo_in_uwsgi_ini_is_named(tmp_path, app):
    # uWSGI itself drops unknown ini keys silently; trellis at least says so.
    ini = tmp_path / "typo.ini"
    ini.write_text(f"[uwsgi]\nplugins = python3\nwsgi-file = {app}\nhttp-socket = 127.0.0.1:1\nproceses = 4\n")
    r = run([str(ini), "--show-config"])
    assert r.returncode == 0
    assert "proceses" in r.stderr and f"{ini}:5" in r.stderr


@pytest.mark.parametrize("case", ["port-in-use", "pidfile", "logto", "missing-wsgi-file", "home", "chdir"])
def test_startup_errors_exit_non_zero_with_a_clear_message(tmp_path, app, case):
    port = free_port()
    extra, needle = [], None
    holder = None
    if case == "port-in-use":
        holder = socket.socket()
        holder.bind(("127.0.0.1", port))
        holder.listen()
        needle = f"127.0.0.1:{port}: Address already in use"
    elif case == "pidfile":
        extra, needle = ["--pidfile", str(tmp_path / "no" / "such" / "x.pid")], "--pidfile"
    elif case == "logto":
        extra, needle = ["--logto", str(tmp_path / "no" / "such" / "x.log")], "x.log"
    elif case == "home":
        extra, needle = ["--home", str(tmp_path / "venv-missing")], "--home"
    elif case == "chdir":
        extra, needle = ["--chdir", str(tmp_path / "gone")], "--chdir"
    target = str(tmp_path / "missing.py") if case == "missing-wsgi-file" else str(app)
    if case == "missing-wsgi-file":
        needle = "missing.py"
    try:
        r = run([*PY, "--wsgi-file", target, "--http-socket", f"127.0.0.1:{port}", "--processes", "2", *extra])
    finally:
        if holder:
            holder.close()
    assert r.returncode != 0, r.stderr
    assert needle in r.stderr, r.stderr


@pytest.mark.parametrize("source, message", [
    ("raise RuntimeError('boom at import')\n", "RuntimeError: boom at import"),
    ("def application(e, s)\n    return []\n", "SyntaxError"),
    ("x = 1\n", "no callable 'application'"),
], ids=["raises", "syntax-error", "no-callable"])
@pytest.mark.parametrize("mode", [[], ["--lazy-apps"]], ids=["preload", "lazy"])
def test_broken_application_stops_the_master_with_the_error(start, tmp_path, source, message, mode):
    bad = tmp_path / "bad.py"
    bad.write_text(source)
    t = start([*PY, "--wsgi-file", str(bad), "--http-socket", f"127.0.0.1:{free_port()}", "--processes", "2",
               *mode], wait=False)
    assert t.wait_exit(15) == 1, t.output()
    log = t.log()
    assert message in log
    assert "the application could not be loaded" in log
    assert log.count("spawned worker") <= 2  # no respawn loop


def test_out_of_range_integers_are_refused(start, app):
    t = serve(start, app, "--processes", "4294967298", wait=False)
    wait_until(lambda: t.proc.poll() is not None or "workers are ready" in t.log(), 10)
    exited = t.proc.poll()
    if exited is None:
        t.wait_ready()
        workers = len(worker_pids(t.pid))
        t.stop()
        raise AssertionError(f"--processes 4294967298 was accepted and runs {workers} workers")
    assert exited != 0
    assert "--processes 4294967298 is too large" in t.log()


# -------------------------------------------------------------- signals

def test_term_finishes_in_flight_requests_and_kills_after_mercy(start, app):
    stats_port = free_port()
    t = serve(start, app, "--processes", "2", "--threads", "2", "--worker-reload-mercy", "1",
              "--stats", f"127.0.0.1:{stats_port}")
    results = {}

    def fetch(name, path):
        try:
            results[name] = get(t.port, path, timeout=20)
        except Exception as e:  # noqa: BLE001 - the outcome is the test
            results[name] = repr(e)

    threads = [threading.Thread(target=fetch, args=("short", "/sleep/0.8")),
               threading.Thread(target=fetch, args=("long", "/sleep/30"))]
    for th in threads:
        th.start()
    assert wait_until(lambda: in_app(stats_port) == 2, 10), "both requests should be in the application"
    started = time.monotonic()
    t.send(signal.SIGTERM)
    assert t.wait_exit(10) == 0, t.output()
    elapsed = time.monotonic() - started
    for th in threads:
        th.join(10)
    assert results["short"] == (200, b"slept")
    assert results["long"] != (200, b"slept")
    assert elapsed < 4, elapsed
    assert "--worker-reload-mercy" in t.log()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGQUIT], ids=["INT", "QUIT"])
def test_int_and_quit_stop_at_once(start, app, sig):
    stats_port = free_port()
    t = serve(start, app, "--processes", "2", "--stats", f"127.0.0.1:{stats_port}")
    result = {}
    th = threading.Thread(target=lambda: result.setdefault("r", _safe_get(t.port, "/sleep/20")))
    th.start()
    assert wait_until(lambda: in_app(stats_port) == 1, 10), "the request should be in the application"
    workers = worker_pids(t.pid)
    started = time.monotonic()
    t.send(sig)
    assert t.wait_exit(5) is not None
    assert time.monotonic() - started < 1.5
    th.join(10)
    assert result["r"] != (200, b"slept")
    assert wait_until(lambda: not any(pid_alive(w) for w in workers), 2)


def _safe_get(port, path, timeout=25):
    try:
        return get(port, path, timeout=timeout)
    except Exception as e:  # noqa: BLE001
        return repr(e)


def test_killing_the_master_takes_every_child_down(start, app):
    t = serve(start, app, "--processes", "2")
    kids = [p for p, _ in children(t.pid)]
    assert len(kids) == 3  # loader + 2 workers
    os.kill(t.pid, signal.SIGKILL)
    t.wait_exit(5)
    assert wait_until(lambda: not any(pid_alive(k) for k in kids), 3)


@pytest.mark.parametrize("when", ["startup", "reload"])
def test_int_stops_at_once_while_the_application_imports(start, tmp_path, when):
    app = tmp_path / "slow.py"
    app.write_text(SLOW_IMPORT_APP)
    delay = tmp_path / "delay"
    if when == "startup":
        delay.write_text("30")
    t = start([*PY, "--wsgi-file", str(app), "--http-socket", f"127.0.0.1:{free_port()}", "--processes", "2"],
              env={"DELAY_FILE": str(delay)}, wait=(when == "reload"))
    if when == "reload":
        delay.write_text("30")
        t.send(signal.SIGHUP)
    assert t.wait_log("importing the application", count=1 if when == "startup" else 2)
    # The application itself says it is inside its 30 s import.
    assert wait_until(lambda: Path(f"{delay}.importing").exists(), 10), t.output()
    t.send(signal.SIGINT)
    code = t.wait_exit(4)  # docs/signals.md: workers exit at once, killed after 3 s at most
    if code is None:
        t.kill_all()
    assert code is not None, "still running 4 s after SIGINT:\n" + t.log()


def test_worker_crash_is_logged_respawned_and_others_keep_serving(start, app):
    t = serve(start, app, "--processes", "2")
    before = set(worker_pids(t.pid))
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        get(t.port, "/exit")
    assert t.wait_log("died unexpectedly: it exited with code 3")
    for _ in range(20):
        assert get(t.port, "/")[0] == 200
    assert wait_until(lambda: len(worker_pids(t.pid)) == 2 and set(worker_pids(t.pid)) != before, 5)
    victim = worker_pids(t.pid)[0]
    os.kill(victim, signal.SIGKILL)
    assert t.wait_log(f"pid {victim}) died unexpectedly: it was killed by signal 9")
    assert wait_until(lambda: len(worker_pids(t.pid)) == 2 and victim not in worker_pids(t.pid), 5)
    assert get(t.port, "/")[0] == 200


def test_harakiri_kills_a_stuck_request_and_replaces_the_worker(start, app):
    t = serve(start, app, "--processes", "2", "--harakiri", "1")
    started = time.monotonic()
    outcome = _safe_get(t.port, "/sleep/8", timeout=10)
    elapsed = time.monotonic() - started
    assert outcome != (200, b"slept")  # the client gets an error, not a hang
    assert elapsed < 3, elapsed
    assert t.wait_log("HARAKIRI")
    assert "GET /sleep/8" in t.log()
    assert t.wait_log("(harakiri)")
    assert wait_until(lambda: len(worker_pids(t.pid)) == 2, 5)
    assert all(get(t.port, "/")[0] == 200 for _ in range(10))


def test_max_requests_recycling_under_load_loses_nothing(start, app):
    stats_port = free_port()
    t = serve(start, app, "--processes", "2", "--threads", "2", "--max-requests", "25",
              "--stats", f"127.0.0.1:{stats_port}")
    n_threads, per_thread = 6, 60
    failures, ok = [], [0]
    lock = threading.Lock()

    def client(keep_alive):
        conn = None
        for _ in range(per_thread):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", t.port, timeout=10)
                conn.request("GET", "/pid", headers={} if keep_alive else {"Connection": "close"})
                r = conn.getresponse()
                r.read()
                assert r.status == 200
                if not keep_alive or (r.getheader("Connection") or "").lower() == "close":
                    conn.close()
                    conn = None
                with lock:
                    ok[0] += 1
            except Exception as e:  # noqa: BLE001
                with lock:
                    failures.append(repr(e))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    with concurrent.futures.ThreadPoolExecutor(n_threads) as pool:
        list(pool.map(client, [i % 2 == 0 for i in range(n_threads)]))
    assert failures == [] and ok[0] == n_threads * per_thread
    assert t.wait_log("after --max-requests", count=5)
    # Every request has its line in the log, each line whole.
    assert wait_until(lambda: t.log().count("GET /pid => 200") == n_threads * per_thread, 5), \
        t.log().count("GET /pid => 200")
    for line in t.log().splitlines():
        if "GET /pid" in line:
            assert re.search(r"\[pid: \d+\|worker: \d\|req: \d+\] 127\.0\.0\.1 GET /pid => 200, \d+ bytes in", line)
    assert t.stop() == 0


def test_stats_document_counts_add_up(start, app):
    stats_port = free_port()
    t = serve(start, app, "--processes", "3", "--threads", "2", "--stats", f"127.0.0.1:{stats_port}")
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: get(t.port, "/"), range(120)))
    assert all(r == (200, b"ok") for r in results)

    def settled():
        d = read_stats(stats_port)
        return sum(w["requests"] for w in d["workers"]) == 120 and all(w["status"] == "idle" for w in d["workers"])

    assert wait_until(settled, 3)
    doc = read_stats(stats_port)
    for key in ("version", "listen_queue", "listen_queue_errors", "load", "pid", "uid", "gid", "cwd", "locks",
                "sockets", "workers"):
        assert key in doc
    assert doc["pid"] == t.pid
    assert doc["sockets"][0]["name"] == f"127.0.0.1:{t.port}" and doc["sockets"][0]["proto"] == "http"
    workers = doc["workers"]
    assert sorted(w["id"] for w in workers) == [1, 2, 3]
    assert sorted(w["pid"] for w in workers) == sorted(worker_pids(t.pid))
    for w in workers:
        assert w["requests"] == sum(c["requests"] for c in w["cores"])
        assert len(w["cores"]) == 2
        assert w["accepting"] == 1 and w["exceptions"] == 0 and w["tx"] > 0


def test_sighup_reload_under_load_loses_nothing(start, tmp_path, app):
    t = serve(start, app, "--processes", "2")
    stop = threading.Event()
    failures, ok = [], [0]

    def client():
        while not stop.is_set():
            r = _safe_get(t.port, "/pid")
            if isinstance(r, tuple) and r[0] == 200:
                ok[0] += 1
            else:
                failures.append(r)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        old = set(worker_pids(t.pid))
        t.send(signal.SIGHUP)
        assert t.wait_log("workers are ready", count=2)
        assert wait_until(lambda: not (old & set(worker_pids(t.pid))), 5)
        # Requests answered once only the new workers are left.
        after = ok[0]
        assert wait_until(lambda: ok[0] >= max(after + 20, 51), 10), (ok[0], failures[:5])
    finally:
        stop.set()
        for th in threads:
            th.join(15)
    assert failures == [] and ok[0] > 50


def test_ttin_and_ttou(start, app):
    t = serve(start, app, "--processes", "2")
    t.send(signal.SIGTTIN)
    assert wait_until(lambda: len(worker_pids(t.pid)) == 3, 5)
    t.send(signal.SIGTTOU)
    t.send(signal.SIGTTOU)
    assert wait_until(lambda: len(worker_pids(t.pid)) == 1, 5)
    assert all(get(t.port, "/")[0] == 200 for _ in range(10))


def test_reload_after_many_ttin_replaces_every_worker(start, app):
    """Found by this review (fixed): SIGTTIN could add more workers than the
    scoreboard holds through a reload, which then never completed. Now TTIN
    stops, with a warning, where a reload still fits (8 above the start)."""
    t = serve(start, app, "--processes", "1")
    for i in range(10):
        t.send(signal.SIGTTIN)
        # One at a time: signals sent before the master handled the last
        # one would merge. Each is answered with a line, added or not.
        assert t.wait_log("SIGTTIN: ", count=i + 1), t.log()
    assert wait_until(lambda: len(worker_pids(t.pid)) == 9, 10)
    assert t.wait_log("SIGTTIN: adding worker 9")
    assert t.wait_log("SIGTTIN: not adding a worker: 9 is the most")
    old = set(worker_pids(t.pid))
    t.send(signal.SIGHUP)
    assert t.wait_log("forking workers from here (generation 2)")
    assert t.wait_log("all 9 workers are ready (generation 2)", timeout=8)
    assert "no free worker slot" not in t.log()
    assert wait_until(lambda: not (old & set(worker_pids(t.pid))), 5)


def test_reuse_port_connections_after_ttou_are_served(start, app):
    """Found by this review (fixed): with --reuse-port, SIGTTOU removed the
    only worker accepting on one of the sockets and new connections hung.
    Now TTOU does not go below the workers that own a socket (warning)."""
    t = serve(start, app, "--processes", "2", "--reuse-port")
    t.send(signal.SIGTTOU)
    assert t.wait_log("SIGTTOU: not removing a worker")
    assert len(worker_pids(t.pid)) == 2
    # New connections, at once: the kernel spreads them over both sockets.
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda _: _safe_get(t.port, "/", timeout=1.5), range(16)))
    assert all(o == (200, b"ok") for o in outcomes), outcomes
    # Workers added with TTIN share sockets: those can go again.
    t.send(signal.SIGTTIN)
    assert wait_until(lambda: len(worker_pids(t.pid)) == 3, 5)
    t.send(signal.SIGTTOU)
    assert wait_until(lambda: len(worker_pids(t.pid)) == 2, 5)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(lambda _: _safe_get(t.port, "/", timeout=1.5), range(16)))
    assert all(o == (200, b"ok") for o in outcomes), outcomes


# ------------------------------------------------------------------- logs

def test_logto_captures_what_the_application_prints(start, tmp_path, app):
    logfile = tmp_path / "app.log"
    port = free_port()
    t = start([*PY, "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(app), "--logto", str(logfile)],
              wait=False)
    assert wait_until(lambda: logfile.exists() and "workers are ready" in logfile.read_text(), 15), t.output()
    t.remember()
    assert get(port, "/print") == (200, b"printed")
    markers = ("PRINTED-BY-APP", "STDERR-BY-APP", "FD2-BY-APP")
    wait_until(lambda: "GET /print" in logfile.read_text() and all(m in logfile.read_text() for m in markers), 5)
    # Once every trellis process has exited, nothing more can reach the
    # terminal: only then is the absence of the markers there meaningful.
    assert t.stop() == 0
    assert wait_until(lambda: not any(pid_alive(p) for p in t.known), 5)
    logged = logfile.read_text()
    leaked = [m for m in markers if m in t.output()]
    missing = [m for m in markers if m not in logged]
    assert not missing and not leaked, f"not in --logto file: {missing}; on the terminal instead: {leaked}"


def test_usr1_reopens_the_daemonize_log(tmp_path, app):
    port = free_port()
    logfile = tmp_path / "daemon.log"
    pidfile = tmp_path / "daemon.pid"
    r = run([*PY, "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(app), "--processes", "2",
             "--daemonize", str(logfile), "--pidfile", str(pidfile)])
    assert r.returncode == 0
    pid = None
    try:
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), 15)
        pid = int(pidfile.read_text())
        assert wait_until(lambda: "workers are ready" in logfile.read_text(), 15)
        assert get(port, "/before") == (200, b"ok")
        rotated = tmp_path / "daemon.log.1"
        os.rename(logfile, rotated)
        os.kill(pid, signal.SIGUSR1)
        assert wait_until(lambda: "log files reopened" in rotated.read_text() or logfile.exists(), 5)
        # The workers reopen from their own loops: wait (without failing
        # here) until /proc shows their stderr on the new file.
        workers = [p for p, c in children(pid) if c.startswith("trellis-w")]
        wait_until(lambda: logfile.exists() and all(fd_target(w, 2) == os.path.realpath(logfile) for w in workers), 5)
        assert get(port, "/after") == (200, b"ok")
        # The request's line is somewhere once written: wait for it, then look.
        wait_until(lambda: "GET /after" in rotated.read_text() + (logfile.read_text() if logfile.exists() else ""), 5)
        assert logfile.exists() and "GET /after" in logfile.read_text(), \
            "after USR1 the log still goes to the rotated file"
    finally:
        if pid:
            kids = [p for p, _ in children(pid)]
            os.kill(pid, signal.SIGTERM)
            if not wait_until(lambda: not pid_alive(pid), 10):
                for p in [pid, *kids]:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            wait_until(lambda: not any(pid_alive(k) for k in kids), 3)


def test_daemonize_pidfile_and_stop_with_kill(tmp_path, app):
    port = free_port()
    logfile = tmp_path / "d.log"
    pidfile = tmp_path / "d.pid"
    r = run([*PY, "--http-socket", f"127.0.0.1:{port}", "--wsgi-file", str(app), "--daemonize", str(logfile),
             "--pidfile", str(pidfile), "--vacuum"])
    assert r.returncode == 0
    pid = None
    try:
        assert wait_until(lambda: pidfile.exists() and pidfile.read_text().strip().isdigit(), 15)
        pid = int(pidfile.read_text())
        assert wait_until(lambda: "workers are ready" in logfile.read_text(), 15)
        assert get(port, "/") == (200, b"ok")
        assert f"master pid {pid}" in logfile.read_text()
        kids = [p for p, _ in children(pid)]
        os.kill(pid, signal.SIGTERM)
        assert wait_until(lambda: not pid_alive(pid), 10)
        assert wait_until(lambda: not any(pid_alive(k) for k in kids), 3)
        assert not pidfile.exists()
        assert "trellis stopped" in logfile.read_text()
        pid = None
    finally:
        if pid and pid_alive(pid):
            kids = [p for p, _ in children(pid)]
            for p in [pid, *kids]:
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
