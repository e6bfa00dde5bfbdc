"""Request log lines: the default uWSGI-like line, --log-format variables,
--log-format json, hostile request bytes, reopening on SIGUSR1."""
import json
import os
import re
import signal
import socket
import threading

import pytest

from conftest import TEST_PLUGIN_DIR, Server, fd_target, http_get, wait_until

BASE = ["--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http"]

ALL_VARS = ("uri=%(uri) method=%(method) status=%(status) addr=%(addr) host=%(host) proto=%(proto) "
            "uagent=%(uagent) referer=%(referer) size=%(size) msecs=%(msecs) micros=%(micros) pid=%(pid) "
            "wid=%(wid) time=%(time) ltime=%(ltime) rid=%(var.HTTP_X_REQUEST_ID) path=%(var.PATH_INFO) end")


def raw_request(port, head: bytes):
    """Sends one request (bytes as given) and returns the status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ")[1])


HOSTILE = [
    # (request head, what the line must show for the URI)
    b'GET /a%0Ab?q="x" HTTP/1.1\r\nHost: h\r\nX-Request-Id: id"1\\\r\nUser-Agent: ua "quoted"\r\n'
    b'Connection: close\r\n\r\n',
    b"GET /raw\xffbyte HTTP/1.1\r\nHost: h\r\nReferer: r\xfe\r\nConnection: close\r\n\r\n",
    b"GET /%0D%0Ainjected%1B HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
]


def request_lines(server_log, marker):
    return [l for l in server_log.splitlines() if marker in l]


def wait_lines(s, marker, n, timeout=5.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = request_lines(s.log(), marker)
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    return request_lines(s.log(), marker)


def wait_ready(logfile, timeout=15.0):
    """With --logto the server's own output is empty: wait on the file."""
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if logfile.exists() and "workers are ready" in logfile.read_text():
            return
        time.sleep(0.05)
    raise AssertionError("trellis did not start")


def test_default_line_has_everything(server):
    s = server(*BASE, "--processes", "1")
    status, body = http_get(s.port, "/bytes/123")
    assert status == 200
    pid = s.workers()[0]
    lines = wait_lines(s, "GET /bytes/123", 1)
    assert len(lines) == 1, s.log()
    m = re.search(r"\[pid: (\d+)\|worker: (\d+)\|req: (\d+)\] (\S+) GET /bytes/123 => (\d+), (\d+) bytes in "
                  r"(\d+\.\d{3}) ms$", lines[0])
    assert m, lines[0]
    assert int(m.group(1)) == pid
    assert m.group(2) == "1" and m.group(3) == "1"
    assert m.group(4) == "127.0.0.1"
    assert m.group(5) == "200" and m.group(6) == "123"
    http_get(s.port, "/")
    assert wait_lines(s, "|req: 2]", 1)


def test_default_line_escapes_hostile_bytes(server):
    s = server(*BASE)
    for head in HOSTILE:
        assert raw_request(s.port, head) == 200
    lines = wait_lines(s, " => 200", len(HOSTILE))
    assert len(lines) == len(HOSTILE), s.log()
    assert any('/a%0Ab?q=\\x22x\\x22' in l for l in lines)
    assert any("/raw\\xffbyte" in l for l in lines)
    # Every line of the log is one whole log line: nothing was split.
    for line in s.log().splitlines():
        assert re.match(r"^\d{4}-\d\d-\d\d ", line), line


def test_log_format_variables(server):
    s = server(*BASE, "--log-format", ALL_VARS)
    status, _ = http_get(s.port, "/bytes/7?x=1", headers={"User-Agent": "ua/1", "Referer": "http://ref/",
                                                           "X-Request-Id": "req-42"})
    assert status == 200
    lines = wait_lines(s, "uri=/bytes/7", 1)
    assert len(lines) == 1, s.log()
    line = lines[0]
    # The line is exactly the format: no logger prefix.
    assert line.startswith("uri=/bytes/7?x=1 method=GET status=200 addr=127.0.0.1 host=127.0.0.1:")
    fields = dict(re.findall(r"(\w+)=(\S+)", line))
    assert fields["proto"] == "HTTP/1.1"
    assert fields["uagent"] == "ua/1" and fields["referer"] == "http://ref/"
    assert fields["size"] == "7"
    assert int(fields["micros"]) >= 0 and int(fields["msecs"]) == int(fields["micros"]) // 1000
    assert int(fields["pid"]) == s.workers()[0]
    assert fields["wid"] == "1"
    import time
    assert abs(int(fields["time"]) - time.time()) < 60
    assert re.search(r"ltime=\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4} ", line)
    assert fields["rid"] == "req-42" and fields["path"] == "/bytes/7"
    assert line.endswith(" end")


def test_log_format_hostile_values_stay_on_one_line(server):
    s = server(*BASE, "--log-format", ALL_VARS)
    for head in HOSTILE:
        assert raw_request(s.port, head) == 200
    lines = wait_lines(s, "uri=", len(HOSTILE))
    assert len(lines) == len(HOSTILE), s.log()
    for line in lines:
        assert line.startswith("uri=") and line.endswith(" end"), line
        assert all(0x20 <= ord(ch) < 0x7f for ch in line), line
    first = next(l for l in lines if "/a%0Ab" in l)
    assert 'uagent=ua \\x22quoted\\x22 ' in first
    assert 'rid=id\\x221\\x5c ' in first
    assert "path=/a\\x0ab " in first  # the decoded newline, escaped
    assert any("path=/\\x0d\\x0ainjected\\x1b " in l for l in lines)
    assert any("referer=r\\xfe " in l for l in lines)


def test_json_lines_are_valid_json(server):
    s = server(*BASE, "--log-format", "json")
    assert http_get(s.port, "/bytes/5", headers={"User-Agent": "ua/2"})[0] == 200
    for head in HOSTILE:
        assert raw_request(s.port, head) == 200
    lines = wait_lines(s, '"uri":', 1 + len(HOSTILE))
    assert len(lines) == 1 + len(HOSTILE), s.log()
    records = [json.loads(l) for l in lines]
    first = records[0]
    for key, typ in {"uri": str, "method": str, "status": int, "addr": str, "host": str, "proto": str,
                     "uagent": str, "referer": str, "size": int, "msecs": int, "micros": int, "pid": int,
                     "wid": int, "time": int, "ltime": str}.items():
        assert isinstance(first[key], typ), key
    assert first["uri"] == "/bytes/5" and first["status"] == 200 and first["size"] == 5
    assert first["uagent"] == "ua/2" and first["wid"] == 1
    by_uri = {r["uri"]: r for r in records}
    assert by_uri['/a%0Ab?q="x"']["uagent"] == 'ua "quoted"'
    assert "/raw\u00ffbyte" in by_uri  # the byte \xff, escaped as \u00ff
    assert by_uri["/raw\u00ffbyte"]["referer"] == "r\u00fe"


def test_concurrent_workers_never_garble_lines(server, tmp_path):
    logfile = tmp_path / "requests.log"
    s = server(*BASE, "--processes", "4", "--threads", "2", "--log-format", "json", "--logto", str(logfile),
               wait=False)
    wait_ready(logfile)
    n_threads, per_thread = 8, 40
    errors = []

    def client(t):
        for i in range(per_thread):
            try:
                assert http_get(s.port, f"/bytes/{100 + t}?n={i}&pad={'p' * 300}")[0] == 200
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    import time
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [l for l in logfile.read_text().splitlines() if l.startswith("{")]
        if len(lines) >= n_threads * per_thread:
            break
        time.sleep(0.05)
    records = [json.loads(l) for l in lines]
    assert len(records) == n_threads * per_thread
    assert sorted(r["size"] for r in records) == sorted(100 + t for t in range(n_threads) for _ in range(per_thread))


@pytest.mark.parametrize("fmt", [None, "%(method) %(uri) %(status)"], ids=["default", "custom"])
def test_usr1_reopens_the_request_log(server, tmp_path, fmt):
    logfile = tmp_path / "trellis.log"
    extra = ["--log-format", fmt] if fmt else []
    s = server(*BASE, "--processes", "2", "--logto", str(logfile), *extra, wait=False)
    wait_ready(logfile)
    import time
    assert http_get(s.port, "/before")[0] == 200
    rotated = tmp_path / "trellis.log.1"
    os.rename(logfile, rotated)
    s.send(signal.SIGUSR1)
    assert wait_until(lambda: logfile.exists() and "log files reopened" in logfile.read_text(), 5)
    # The workers reopen from their own loops: wait until each one's
    # stdout and stderr are the new file.
    workers = s.workers()
    assert len(workers) == 2
    assert wait_until(lambda: all(fd_target(w, fd) == os.path.realpath(logfile) for w in workers for fd in (1, 2)),
                      5), \
        {w: (fd_target(w, 1), fd_target(w, 2)) for w in workers}
    for _ in range(4):
        assert http_get(s.port, "/after")[0] == 200
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and logfile.read_text().count("/after") < 4:
        time.sleep(0.05)
    assert logfile.read_text().count("GET /after") == 4
    assert "/after" not in rotated.read_text()
    assert "GET /before" in rotated.read_text()


def test_disable_logging_drops_request_lines(server):
    # One worker, one thread: it writes a request's line before it serves
    # the next request, so once /later is answered /quiet's line would be
    # in the log.
    s = server(*BASE, "--disable-logging", "--log-format", "json", "--processes", "1", "--threads", "1")
    assert http_get(s.port, "/quiet")[0] == 200
    assert http_get(s.port, "/later")[0] == 200
    assert "/quiet" not in s.log() and "/later" not in s.log()


@pytest.mark.parametrize("fmt, message", [("%(nope)", "unknown variable %(nope)"),
                                          ("%(uri", "never closed")])
def test_bad_log_format_is_a_startup_error(tmp_path, fmt, message):
    with pytest.raises(RuntimeError) as e:
        Server([*BASE, "--log-format", fmt], tmp_path)
    assert message in str(e.value)
