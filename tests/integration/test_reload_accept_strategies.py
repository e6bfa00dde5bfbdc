"""Five graceful reloads under load lose no request, whichever way the workers
accept (issue 13, defect 3: with a lock engine, a worker closed connections
its accept thread had taken after draining began)."""
import re
import signal
import subprocess

import pytest

from conftest import TEST_PLUGIN_DIR, wait_until

TESTAPP = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]

STRATEGIES = {
    "pthread": ["--lock-engine", "pthread"],
    "flock": ["--lock-engine", "flock"],
    "sem": ["--lock-engine", "sem"],
    "none": ["--lock-engine", "none"],
    "reuse-port": ["--reuse-port"],
    "threads-4": ["--threads", "4"],
    "pthread-threads-4": ["--lock-engine", "pthread", "--threads", "4"],
}
LOAD_SECONDS = 10
RELOADS = 5


def wrk(port, *headers):
    cmd = ["wrk", "-t1", "-c8", f"-d{LOAD_SECONDS}s", "--timeout", "5s"]
    for h in headers:
        cmd += ["-H", h]
    return subprocess.Popen(cmd + [f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def outcome(proc):
    """(requests completed, problems wrk reported) from a finished wrk."""
    out = proc.communicate(timeout=LOAD_SECONDS + 30)[0]
    done = re.search(r"(\d+) requests in", out)
    problems = [line.strip() for line in out.splitlines() if "Socket errors" in line or "Non-2xx" in line]
    return (int(done.group(1)) if done else 0), problems, out


@pytest.mark.parametrize("strategy", list(STRATEGIES))
def test_five_reloads_under_load_lose_nothing(server, strategy):
    s = server(*TESTAPP, "--processes", "2", "--disable-logging", *STRATEGIES[strategy])
    # One client opens a connection per request, one keeps them alive.
    fresh = wrk(s.port, "Connection: close")
    kept = wrk(s.port)
    try:
        for generation in range(2, 2 + RELOADS):
            exited = s.log().count(" exited with code 0")
            s.send(signal.SIGHUP)
            assert s.wait_log(f"all 2 workers are ready (generation {generation})"), s.log()
            # The old generation has drained and gone before the next reload.
            assert wait_until(lambda: s.log().count(" exited with code 0") >= exited + 2), s.log()
        still_loading = fresh.poll() is None and kept.poll() is None
    finally:
        results = [outcome(fresh), outcome(kept)]
    assert still_loading, "the reloads took longer than the load: make LOAD_SECONDS longer"
    for done, problems, out in results:
        assert done > 0, out
        assert not problems, "\n\n".join(r[2] for r in results)
