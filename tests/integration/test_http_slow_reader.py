"""A client that reads its response slowly must not hold the application
thread: the worker keeps the response's unsent tail (--write-buffer) and sends
it from the event loop while the thread serves others. One worker, one
thread, so a held thread would show at once. C++ test runtime, no Python."""
import socket

import pytest

from http_support import TESTAPP, Client, module_server, request  # noqa: F401

# More than the kernel takes for a reader with a 4 KiB window (the send
# buffer grows up to tcp_wmem's 4 MiB), less than the write buffer below.
BIG = 8_000_000
BUFFER = ("--write-buffer", str(16 << 20))


def slow_reader(port, target, rcvbuf=4096):
    """A connection that asks for `target` and reads nothing yet."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # before connect: a small window
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    s.sendall(request("GET", target))
    return s


def response_begun(s):
    """Waits until the first response byte is in (peeked, not read): the
    server has taken the request and is writing as far as the socket takes."""
    assert s.recv(1, socket.MSG_PEEK) == b"H"


def read_all(s, until):
    """Reads until `until` bytes have come (or EOF); returns them."""
    data = b""
    while len(data) < until:
        piece = s.recv(65536)
        if not piece:
            break
        data += piece
    return data


def answered_within(port, seconds):
    """True when GET /pid is answered within `seconds`."""
    with Client(port, timeout=seconds) as c:
        c.send(request("GET", "/pid"))
        try:
            return c.read_response().status == 200
        except (socket.timeout, TimeoutError):
            return False


@pytest.fixture(scope="module", params=["1", "4"], ids=["inline", "threads4"])
def srv(module_server, request):
    # With 4 threads the kept bytes are handed from a pool thread to the loop.
    return module_server(*TESTAPP, "--processes", "1", "--threads", request.param, *BUFFER)


def test_other_clients_are_served_while_one_reads_slowly(srv):
    s = slow_reader(srv.port, f"/bytes/{BIG}")
    try:
        response_begun(s)
        assert answered_within(srv.port, 3)
        data = read_all(s, BIG + 200)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and body == b"x" * BIG
    finally:
        s.close()


def test_keep_alive_continues_after_the_kept_bytes(srv):
    # Two pipelined requests on a slow reader: the second response comes
    # after every byte of the first, on the same connection.
    s = slow_reader(srv.port, f"/bytes/{BIG}")
    try:
        s.sendall(request("GET", "/bytes/5"))
        response_begun(s)
        assert answered_within(srv.port, 3)
        data = b""
        while data.count(b"HTTP/1.1 200") < 2 or not data.endswith(b"xxxxx"):
            piece = s.recv(65536)
            assert piece, data[-200:]
            data += piece
        first, second = data.split(b"HTTP/1.1 200")[1:]
        assert first.endswith(b"\r\n\r\n" + b"x" * BIG)
        assert second.endswith(b"\r\n\r\nxxxxx")
    finally:
        s.close()


def test_response_larger_than_the_buffer_still_arrives_whole(module_server):
    srv = module_server(*TESTAPP, "--processes", "1", "--write-buffer", "65536")
    s = slow_reader(srv.port, "/bytes/12000000")
    try:
        response_begun(s)
        data = read_all(s, 12_000_000 + 200)
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and len(body) == 12_000_000 and body.count(b"x") == 12_000_000
        assert answered_within(srv.port, 3)
    finally:
        s.close()


def test_without_a_write_buffer_the_thread_waits_for_the_reader(module_server):
    # The contrast: --write-buffer 0 is the old behaviour, which shows that
    # the tests above would notice a held thread.
    srv = module_server(*TESTAPP, "--processes", "1", "--write-buffer", "0")
    s = slow_reader(srv.port, f"/bytes/{BIG}")
    try:
        response_begun(s)
        assert not answered_within(srv.port, 1.5)
        data = read_all(s, BIG + 200)
        assert data.endswith(b"x" * 1000)
    finally:
        s.close()


def test_a_reader_that_never_reads_is_closed_at_the_socket_timeout(module_server):
    srv = module_server(*TESTAPP, "--processes", "1", "--socket-timeout", "2", *BUFFER)
    s = slow_reader(srv.port, f"/bytes/{BIG}")
    try:
        assert srv.wait_log("did not read the response within the socket timeout", timeout=10), srv.log()
        assert answered_within(srv.port, 3)
    finally:
        s.close()


@pytest.mark.parametrize("buffer", ["default", "0"])
def test_slow_download_of_a_static_file_holds_no_thread(module_server, tmp_path, buffer):
    # The rest of a file the socket cannot take is kept as a file range
    # (no memory): the thread moves on. --write-buffer 0 is the contrast.
    data = bytes(range(256)) * (64 * 1024)  # 16 MiB, recognisable at every offset
    (tmp_path / "big.bin").write_bytes(data)
    extra = ["--write-buffer", "0"] if buffer == "0" else []
    srv = module_server(*TESTAPP, "--processes", "1", "--static-map", f"/files={tmp_path}", *extra)
    s = slow_reader(srv.port, "/files/big.bin")
    try:
        s.sendall(request("GET", "/bytes/5"))  # pipelined: answered after the whole file
        response_begun(s)
        assert answered_within(srv.port, 2 if buffer == "default" else 1.5) == (buffer == "default")
        got = b""
        while not got.endswith(b"\r\n\r\nxxxxx"):
            piece = s.recv(1 << 20)
            assert piece, got[-200:]
            got += piece
        head, _, rest = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200") and rest[:len(data)] == data
        assert rest[len(data):].startswith(b"HTTP/1.1 200")
    finally:
        s.close()
