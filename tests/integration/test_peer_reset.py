"""A client that resets its connection while its request is in an application
thread costs the worker nothing (issue 13, defect 2: epoll reported the
hang-up of the parked socket at every wait, and the worker spun)."""
import socket
import struct
import time

import pytest

from conftest import TEST_PLUGIN_DIR, http_get, wait_until
from robustness_support import cpu_seconds

TESTAPP = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]


def reset(sock):
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@pytest.mark.parametrize("threads", [2, 8])
def test_a_reset_during_an_application_request_keeps_the_worker_idle(server, threads):
    s = server(*TESTAPP, "--processes", "1", "--threads", str(threads), stats=True)
    [worker] = s.workers()
    client = socket.create_connection(("127.0.0.1", s.port))
    client.sendall(b"GET /sleep/2500 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert s.wait_in_app(1)
    cpu_before, wall_before = cpu_seconds(worker), time.monotonic()
    reset(client)
    # The request ends when the application returns; its log line says so.
    assert s.wait_log("GET /sleep/2500", timeout=15), s.log()
    used = cpu_seconds(worker) - cpu_before
    elapsed = time.monotonic() - wall_before
    assert used < 0.05 * elapsed, f"the worker used {used:.2f} s of CPU in {elapsed:.2f} s"
    # The worker goes on serving, the reset connection gone from its books.
    assert http_get(s.port) == (200, b"Hello World!")
    assert wait_until(lambda: s.in_app() == 0)

