"""Closed-loop HTTP load over fresh connections, counting every failure.

usage: /usr/bin/python3 bench/lib/loadgen.py PORT SECONDS [CONCURRENCY] [OUT.tsv]

CONCURRENCY threads (default 8) each loop: connect, send one GET with
"Connection: close", read to EOF, check "200" and a non-empty body. Any
connect error, reset, timeout (5 s), other status or empty body is a failure.
Prints one line:  requests failures max_ms p99_ms
and, with OUT.tsv, one line per request: start (s, monotonic) latency_ms ok body|error
"""
import socket
import sys
import threading
import time

port, seconds = int(sys.argv[1]), float(sys.argv[2])
conc = int(sys.argv[3]) if len(sys.argv) > 3 else 8
out = sys.argv[4] if len(sys.argv) > 4 else None
REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
records = []  # list.append is atomic under the GIL


def one():
    t0 = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(REQ)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        ok = head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")) and body != b""
        what = body.decode(errors="replace") if ok else "bad response: " + repr(data[:60])
    except OSError as e:
        ok, what = False, type(e).__name__ + ": " + str(e)
    records.append((t0, (time.monotonic() - t0) * 1000, ok, what))


def loop(deadline):
    while time.monotonic() < deadline:
        one()


deadline = time.monotonic() + seconds
threads = [threading.Thread(target=loop, args=(deadline,)) for _ in range(conc)]
for t in threads:
    t.start()
for t in threads:
    t.join()
lat = sorted(r[1] for r in records)
fails = sum(1 for r in records if not r[2])
print(len(records), fails, f"{lat[-1]:.1f}", f"{lat[int(len(lat) * 0.99) - 1]:.1f}")
if out:
    with open(out, "w") as f:
        for r in records:
            f.write(f"{r[0]:.6f}\t{r[1]:.2f}\t{int(r[2])}\t{r[3]}\n")
