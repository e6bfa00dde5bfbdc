"""Process-model features around the edges: reload-on-rss, systemd socket
activation and readiness, daemonize."""
import os
import signal
import socket
import subprocess
import time

from conftest import BIN, TEST_PLUGIN_DIR, Server, free_port, http_get, wait_for_port

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]


def worker_pid(port):
    return int(http_get(port, "/pid")[1])


def test_reload_on_rss_recycles_a_bloated_worker(server):
    s = server(*BASE, "--processes", "1", "--reload-on-rss", "40")
    before = worker_pid(s.port)
    assert http_get(s.port, "/leak/64") == (200, b"leaked")
    assert s.wait_log("--reload-on-rss"), s.log()
    deadline = time.monotonic() + 10
    after = before
    while after == before and time.monotonic() < deadline:
        try:
            after = worker_pid(s.port)
        except OSError:
            pass
        time.sleep(0.1)
    assert after != before


def test_sd_notify_ready_reloading_stopping(tmp_path):
    path = str(tmp_path / "notify.sock")
    sink = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sink.bind(path)
    sink.settimeout(10)
    s = Server(BASE + ["--processes", "1"], tmp_path, env={"NOTIFY_SOCKET": path})
    try:
        assert sink.recv(64) == b"READY=1"
        s.send(signal.SIGHUP)
        assert sink.recv(64) == b"RELOADING=1"
        assert sink.recv(64) == b"READY=1"
    finally:
        s.stop()
    assert sink.recv(64) == b"STOPPING=1"


def test_systemd_socket_activation(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    os.set_inheritable(listener.fileno(), True)
    log = open(tmp_path / "log", "wb")
    # systemd passes the sockets from fd 3 and names the pid they are for.
    cmd = (f"exec 3<&{listener.fileno()}; LISTEN_FDS=1 LISTEN_PID=$$ exec {BIN} "
           f"--plugin-dir {TEST_PLUGIN_DIR} --plugin testapp,http --http-socket 127.0.0.1:{port}")
    proc = subprocess.Popen(["/bin/bash", "-c", cmd], pass_fds=[listener.fileno()], stdout=log, stderr=log,
                            start_new_session=True)
    listener.close()  # only trellis holds it now
    try:
        assert wait_for_port(port, proc), (tmp_path / "log").read_text()
        assert http_get(port, "/") == (200, b"Hello World!")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.returncode == 0


def test_daemonize_runs_in_the_background(tmp_path):
    port = free_port()
    logfile = tmp_path / "daemon.log"
    pidfile = tmp_path / "daemon.pid"
    r = subprocess.run([str(BIN), *BASE, "--http-socket", f"127.0.0.1:{port}", "--daemonize", str(logfile),
                        "--pidfile", str(pidfile)], timeout=20)
    assert r.returncode == 0  # the foreground process returns at once
    try:
        deadline = time.monotonic() + 30
        while not pidfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = int(pidfile.read_text())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                assert http_get(port, "/") == (200, b"Hello World!")
                break
            except OSError:
                time.sleep(0.1)
        assert "starting" in logfile.read_text()
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
                time.sleep(0.05)
            except ProcessLookupError:
                break
        else:
            raise AssertionError("daemon did not stop")
    finally:
        # Whatever failed above, no daemon outlives the test.
        subprocess.run(["pkill", "-KILL", "-f", str(logfile)], check=False)


def test_uid_and_gid_are_dropped_after_binding(server, tmp_path):
    import pwd
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root to switch users")
    nobody = pwd.getpwnam("nobody")
    pidfile = tmp_path / "root-owned.pid"
    s = server(*BASE, "--processes", "1", "--uid", "nobody", "--gid", str(nobody.pw_gid), "--pidfile", str(pidfile))
    assert http_get(s.port, "/") == (200, b"Hello World!")
    # The pidfile is written before privileges go, like the sockets.
    assert int(pidfile.read_text()) == s.proc.pid

    def ids(pid):
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])

    assert ids(s.proc.pid) == (nobody.pw_uid, nobody.pw_gid)
    assert ids(s.workers()[0]) == (nobody.pw_uid, nobody.pw_gid)
    assert "serving as root" not in s.log()
