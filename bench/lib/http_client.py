"""Send N GET requests one after another, on one keep-alive connection or on
a new connection each ("Connection: close").

usage: /usr/bin/python3 bench/lib/http_client.py PORT N [EXTRA_HEADERS [same|distinct [keepalive|close]]]

EXTRA_HEADERS extra request headers, named X-Bench-00, X-Bench-01, ... (all
names of the same length: "same", the default) or X-Be-0, X-Bee-1, ... (every
name of a different length: "distinct"). Every response must be a 200 with a
Content-Length body. Deterministic: the same bytes every time, so callgrind
counts of the server differ only by the number of requests.
"""
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
extra = int(sys.argv[3]) if len(sys.argv) > 3 else 0
distinct = len(sys.argv) > 4 and sys.argv[4] == "distinct"
close = len(sys.argv) > 5 and sys.argv[5] == "close"
names = [f"X-B{'e' * (i + 1)}-{i}" if distinct else f"X-Bench-{i:02d}" for i in range(extra)]
headers = "".join(f"{name}: value-{i:02d}-{'x' * 24}\r\n" for i, name in enumerate(names))
if close:
    headers += "Connection: close\r\n"
req = f"GET /bench?a=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n{headers}\r\n".encode()


def read_response(f):
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 200"), status
    length = None
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
    assert length is not None, "response without Content-Length"
    f.read(length)


s = None
for _ in range(n):
    if s is None or close:
        if s:
            s.close()
        s = socket.create_connection(("127.0.0.1", port), timeout=120)
        f = s.makefile("rb")
    s.sendall(req)
    read_response(f)
    if close:
        assert f.read() == b"", "data after a Connection: close response"
s.close()
