"""Helpers for the robustness tests (issue 13): the fault-injection library
(tests/fault_injection) that makes chosen system calls of trellis fail on
demand, and a process's CPU time."""
import os

from conftest import BUILD

FAULT_LIB = (BUILD / "test-support" / "libtrellis_fault_inject.so").resolve()


def faults(*rules):
    """Environment for a server whose system calls fail as the rules say
    (CALL:ACTION:WHEN:PATH, see fault_inject.c). The library also refuses and
    reports any kill() with a pid <= 0."""
    assert FAULT_LIB.exists(), f"{FAULT_LIB} is not built"
    return {"LD_PRELOAD": str(FAULT_LIB), "TRELLIS_FAULTS": ";".join(rules)}


def cpu_seconds(pid):
    """User + system CPU time of a process, all its threads, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of stat(5); fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

