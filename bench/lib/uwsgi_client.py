"""Send N requests in the binary uwsgi protocol, one connection each, as
nginx's uwsgi_pass does (the vars of Debian's /etc/nginx/uwsgi_params plus
the headers a browser-like client sends).

usage: /usr/bin/python3 bench/lib/uwsgi_client.py PORT N

Each answer must start with "HTTP/1.1 200" (or 1.0) and the server must
close the connection after it. Deterministic bytes: for callgrind counts.
"""
import socket
import struct
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
VARS = {
    "QUERY_STRING": "", "REQUEST_METHOD": "GET", "CONTENT_TYPE": "", "CONTENT_LENGTH": "",
    "REQUEST_URI": "/", "PATH_INFO": "/", "DOCUMENT_ROOT": "/usr/share/nginx/html",
    "SERVER_PROTOCOL": "HTTP/1.1", "REQUEST_SCHEME": "http", "REMOTE_ADDR": "127.0.0.1",
    "REMOTE_PORT": "40000", "SERVER_PORT": "8080", "SERVER_NAME": "", "HTTP_HOST": "127.0.0.1",
    "HTTP_USER_AGENT": "bench", "HTTP_ACCEPT": "*/*",
}
body = b"".join(struct.pack("<H", len(k)) + k.encode() + struct.pack("<H", len(v)) + v.encode()
                for k, v in VARS.items())
PACKET = struct.pack("<BHB", 0, len(body), 0) + body

for _ in range(n):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(PACKET)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    assert data.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")), data[:80]
