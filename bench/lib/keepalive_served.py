"""How many of C concurrent keep-alive connections a server answers.

usage: /usr/bin/python3 bench/lib/keepalive_served.py PORT [C]

Opens C connections (default 50) at once, sends one GET on each and waits up
to 3 s for the answers. wrk never reports a request that gets no answer at
all (it counts a timeout only when a late answer arrives), so a server that
serves a few keep-alive connections and leaves the others waiting looks fine
in wrk's output; this shows it. Prints: answered not_answered
"""
import select
import socket
import sys
import time

port = int(sys.argv[1])
conns = int(sys.argv[2]) if len(sys.argv) > 2 else 50
REQ = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(conns)]
for s in socks:
    s.sendall(REQ)
pending, answered = set(socks), 0
deadline = time.monotonic() + 3
while pending and time.monotonic() < deadline:
    ready, _, _ = select.select(list(pending), [], [], 0.1)
    for s in ready:
        try:
            data = s.recv(65536)
        except OSError:
            data = b""
        answered += data.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
        pending.discard(s)
for s in socks:
    s.close()
print(answered, conns - answered)
