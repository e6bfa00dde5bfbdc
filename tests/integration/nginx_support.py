"""A real nginx (Debian's nginx-light) in front of trellis via uwsgi_pass.

Everything nginx writes (pid, logs, temp files) lives in the test's tmp_path;
it listens on loopback only and runs as the current user: the `user`
directive names that user, so nginx ignores it when started unprivileged and
keeps its workers as root when started as root (a `nobody` worker could not
reach a UNIX socket in a 0700 tmp_path).

    def test_x(nginx, server):
        ng = nginx("127.0.0.1:3031")          # or "unix:/path/to.sock"
        requests.get(ng.url + "/")

A UwsgiCapture stands in for trellis to record the exact packet nginx sends.
"""
import grp
import os
import pwd
import signal
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_for_port

NGINX_BIN = Path("/usr/sbin/nginx")
UWSGI_PARAMS = Path("/etc/nginx/uwsgi_params")

CONF_TEMPLATE = """\
user {user} {group};
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    client_max_body_size 64m;
    large_client_header_buffers {large_client_header_buffers};
{http_extra}
    server {{
        listen 127.0.0.1:{port};
        server_name {server_name};

        location / {{
            include {uwsgi_params};
            uwsgi_pass {upstream};
            uwsgi_read_timeout 20s;
            uwsgi_send_timeout 20s;
{location_extra}
        }}
    }}
}}
"""


def require_nginx():
    """Skips the test, saying what is missing, unless nginx can be run."""
    if not NGINX_BIN.exists():
        pytest.skip(f"{NGINX_BIN} not found: install Debian's nginx-light (scripts/install-deps.sh)")
    if not UWSGI_PARAMS.exists():
        pytest.skip(f"{UWSGI_PARAMS} not found: nginx's stock uwsgi_params ships with nginx-common")


class Nginx:
    """One nginx master (+1 worker) proxying every path to `upstream`."""

    def __init__(self, tmp_path, upstream, port=None, server_name="trellis.test",
                 large_client_header_buffers="4 16k", http_extra="", location_extra=""):
        require_nginx()
        self.port = port or free_port()
        self.prefix = tmp_path / f"nginx-{self.port}"
        (self.prefix / "tmp").mkdir(parents=True)
        self.conf_path = self.prefix / "nginx.conf"
        self.conf_path.write_text(CONF_TEMPLATE.format(
            user=pwd.getpwuid(os.geteuid()).pw_name, group=grp.getgrgid(os.getegid()).gr_name,
            prefix=self.prefix, port=self.port, server_name=server_name, uwsgi_params=UWSGI_PARAMS,
            upstream=upstream, large_client_header_buffers=large_client_header_buffers,
            http_extra=http_extra, location_extra=location_extra))
        self.output_path = self.prefix / "stderr.log"
        self.output = open(self.output_path, "wb")
        self.proc = subprocess.Popen(
            [str(NGINX_BIN), "-p", str(self.prefix), "-c", str(self.conf_path), "-g", "daemon off;"],
            stdout=self.output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        if not wait_for_port(self.port, self.proc, timeout=10):
            self.stop()
            raise RuntimeError(f"nginx did not start (exit {self.proc.returncode}):\n{self.logs()}")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def error_log(self):
        p = self.prefix / "error.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def access_log(self):
        p = self.prefix / "access.log"
        return p.read_text(errors="replace") if p.exists() else ""

    def logs(self):
        return (self.output_path.read_text(errors="replace") + self.error_log() +
                "\n--- nginx.conf ---\n" + self.conf_path.read_text())

    def stop(self, timeout=10.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown: master and worker
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.output.close()


@pytest.fixture
def nginx(tmp_path):
    """nginx(upstream, **kw) starts an nginx in front of `upstream` and
    stops it after the test."""
    started = []

    def start(upstream, **kw):
        ng = Nginx(tmp_path, upstream, **kw)
        started.append(ng)
        return ng

    yield start
    for ng in started:
        ng.stop()


def parse_uwsgi_packet(data):
    """(modifier1, modifier2, [(key, value)], rest) of one uwsgi packet;
    keys and values as latin-1 str, in the order sent."""
    mod1, size, mod2 = struct.unpack("<BHB", data[:4])
    block, rest = data[4:4 + size], data[4 + size:]
    assert len(block) == size, f"short vars block: {len(block)} of {size}"
    pairs = []
    i = 0
    while i < size:
        (kl,) = struct.unpack("<H", block[i:i + 2])
        key = block[i + 2:i + 2 + kl].decode("latin-1")
        i += 2 + kl
        (vl,) = struct.unpack("<H", block[i:i + 2])
        value = block[i + 2:i + 2 + vl].decode("latin-1")
        i += 2 + vl
        pairs.append((key, value))
    return mod1, mod2, pairs, rest


class UwsgiCapture:
    """A one-connection-at-a-time uwsgi peer on loopback: records every packet
    nginx sends (head and body, read until nginx stops sending) and answers
    a fixed 200."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.packets = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                data = b""
                try:
                    while len(data) < 4 or len(data) < 4 + struct.unpack("<H", data[1:3])[0] + self._body_len(data):
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    self.packets.append(data)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n")
                except OSError:
                    self.packets.append(data)

    @staticmethod
    def _body_len(data):
        size = struct.unpack("<H", data[1:3])[0]
        if len(data) < 4 + size:
            return 0
        for k, v in parse_uwsgi_packet(data[:4 + size])[2]:
            if k == "CONTENT_LENGTH" and v:
                return int(v)
        return 0

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
