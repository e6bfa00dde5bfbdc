"""System calls that fail: trellis logs what failed, keeps serving, and repairs
itself (issue 13). The failures come from the fault-injection library
(tests/fault_injection), which also refuses any kill() of a pid <= 0."""
import http.client
import os
import signal

import pytest

from conftest import TEST_PLUGIN_DIR, http_get, pid_alive, wait_until
from robustness_support import faults

TESTAPP = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]


@pytest.mark.parametrize("mode", ["preload", "lazy"])
def test_a_failed_fork_is_retried_until_it_works_and_nothing_else_is_signalled(server, tmp_path, mode):
    broken = tmp_path / "fork-fails"
    extra = ["--lazy-apps"] if mode == "lazy" else []
    s = server(*TESTAPP, "--processes", "2", *extra, env=faults(f"fork:EAGAIN:while:{broken}"))
    victim = s.workers()[0]
    broken.touch()
    os.kill(victim, signal.SIGKILL)
    assert s.wait_log("was killed by signal 9"), s.log()
    # Each failed attempt is logged with its errno, and tried again later.
    assert wait_until(lambda: s.log().count("could not start worker") >= 2), s.log()
    assert "Resource temporarily unavailable; trying again in" in s.log()
    # Meanwhile the other worker serves.
    assert http_get(s.port)[0] == 200
    spawned_before = s.log().count("spawned worker")
    broken.unlink()
    assert wait_until(lambda: s.log().count("spawned worker") > spawned_before), s.log()
    assert wait_until(lambda: len(s.workers()) == 2 and victim not in s.workers()), s.log()
    for _ in range(10):
        assert http_get(s.port)[0] == 200
    log = s.log()
    assert "trellis-fault" in log and "fork() fails with" in log  # the fault really happened
    assert "refused kill(" not in log, log
    assert "pid -1" not in log, log


def test_a_failed_epoll_ctl_ends_the_worker_cleanly_and_it_is_replaced(server, tmp_path):
    broken = tmp_path / "epoll-ctl-fails"
    s = server(*TESTAPP, "--processes", "1", env=faults(f"epoll_ctl:ENOMEM:once:{broken}"))
    old = s.workers()
    broken.touch()
    # A keep-alive connection is watched after its first response: that
    # epoll_ctl fails. The response already sent is complete.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    conn.request("GET", "/")
    r = conn.getresponse()
    assert (r.status, r.read()) == (200, b"Hello World!")
    conn.close()
    assert s.wait_log("epoll_ctl(ADD) for the connection from 127.0.0.1 failed: Cannot allocate memory"), s.log()
    assert s.wait_log("this worker stops and the master starts another")
    assert s.wait_log("exited with code 23 (a system call failed"), s.log()
    assert wait_until(lambda: len(s.workers()) == 1 and s.workers() != old), s.log()
    for _ in range(10):
        assert http_get(s.port)[0] == 200
    assert "refused kill(" not in s.log()


def test_a_failed_epoll_ctl_lets_the_requests_in_the_application_finish(server, tmp_path):
    """With threads, the requests already in the application are answered
    before the failed worker exits."""
    broken = tmp_path / "epoll-ctl-fails"
    s = server(*TESTAPP, "--processes", "1", "--threads", "2", stats=True,
               env=faults(f"epoll_ctl:ENOMEM:once:{broken}"))
    slow = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    slow.request("GET", "/sleep/2000", headers={"Connection": "close"})
    # Once the slow request is in an application thread, the next
    # epoll_ctl (for the next connection) fails.
    assert s.wait_in_app(1)
    broken.touch()
    # The connection that meets the failure cannot be watched: it is closed
    # (and logged), whatever happens to its request.
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    try:
        conn.request("GET", "/")
        conn.getresponse().read()
    except (ConnectionError, http.client.HTTPException):
        pass
    conn.close()
    assert s.wait_log("this worker stops and the master starts another"), s.log()
    r = slow.getresponse()
    assert (r.status, r.read()) == (200, b"slept")
    assert s.wait_log("exited with code 23"), s.log()


def test_a_failed_signalfd_in_a_new_worker_is_replaced_and_term_still_stops(server, tmp_path):
    broken = tmp_path / "signalfd-fails"
    s = server(*TESTAPP, "--processes", "2", env=faults(f"signalfd:EMFILE:once:{broken}"))
    victim = s.workers()[0]
    broken.touch()
    os.kill(victim, signal.SIGKILL)
    assert s.wait_log("signalfd failed: Too many open files"), s.log()
    assert s.wait_log("exited with code 23 (a system call failed"), s.log()
    assert wait_until(lambda: len(s.workers()) == 2 and victim not in s.workers()), s.log()
    assert http_get(s.port)[0] == 200
    # Every worker still obeys TERM (the fixture's stop() checks that the
    # master and every worker are gone within its deadline).
    workers = s.workers()
    assert s.stop() == 0
    assert not any(pid_alive(w) for w in workers)


def test_accept_out_of_memory_pauses_accepting_instead_of_spinning(server, tmp_path):
    broken = tmp_path / "accept-fails"
    s = server(*TESTAPP, "--processes", "1", env=faults(f"accept4:ENOBUFS:once:{broken}"))
    broken.touch()
    # The connection that meets the failure stays queued and is served
    # after the pause.
    assert http_get(s.port)[0] == 200
    assert s.wait_log("No buffer space available; not accepting for 500 ms"), s.log()
    assert http_get(s.port)[0] == 200


def test_a_failed_response_write_closes_that_connection_only(server, tmp_path):
    broken = tmp_path / "sendmsg-fails"
    s = server(*TESTAPP, "--processes", "1", env=faults(f"sendmsg:ECONNRESET:once:{broken}"))
    worker = s.workers()
    broken.touch()
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.request("GET", "/")
        conn.getresponse().read()
    conn.close()
    assert s.wait_log("sendmsg() fails with Connection reset by peer"), s.log()
    assert http_get(s.port) == (200, b"Hello World!")
    assert s.workers() == worker
