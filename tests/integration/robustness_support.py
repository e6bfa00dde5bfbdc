"""Helpers for the robustness tests (issue 13): the fault-injection library
(tests/fault_injection) that makes chosen system calls of trellis fail on
demand, a process's CPU time, and requests in the application as the stats
server reports them."""
import json
import os
import socket
import time

from conftest import BUILD

FAULT_LIB = (BUILD / "test-support" / "libtrellis_fault_inject.so").resolve()


def faults(*rules):
    """Environment for a server whose system calls fail as the rules say
    (CALL:ACTION:WHEN:PATH, see fault_inject.c). The library also refuses and
    reports any kill() with a pid <= 0."""
    assert FAULT_LIB.exists(), f"{FAULT_LIB} is not built"
    return {"LD_PRELOAD": str(FAULT_LIB), "TRELLIS_FAULTS": ";".join(rules)}


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def cpu_seconds(pid):
    """User + system CPU time of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests_in_app(stats_port):
    """How many requests the workers have in the application, from the
    (plain, uWSGI-layout) stats server on `stats_port`."""
    data = b""
    with socket.create_connection(("127.0.0.1", stats_port), timeout=5) as s:
        while chunk := s.recv(65536):
            data += chunk
    doc = json.loads(data)
    return sum(core["in_request"] for w in doc["workers"] for core in w["cores"])
