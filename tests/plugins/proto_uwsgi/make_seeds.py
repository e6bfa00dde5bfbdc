#!/usr/bin/python3
"""Writes the fuzz seed corpus: [config byte][split seed][uwsgi packet].

Config bits (fuzz_uwsgi_parser.cpp): 1 buffer-size 64, 2 no default runtime,
4 limit-post 100, 8 a "psgi" runtime loaded.
Run by run_fuzz.sh; kept as a script so the binary seeds are reviewable."""
import os
import struct
import sys


def block(pairs):
    out = b""
    for k, v in pairs:
        out += struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v
    return out


def packet(pairs, body=b"", mod1=0, datasize=None, mod2=0):
    b = block(pairs)
    n = len(b) if datasize is None else datasize
    return bytes([mod1]) + struct.pack("<H", n) + bytes([mod2]) + b + body


NGINX = [
    (b"QUERY_STRING", b"x=1"), (b"REQUEST_METHOD", b"GET"), (b"CONTENT_TYPE", b""),
    (b"CONTENT_LENGTH", b""), (b"REQUEST_URI", b"/hello?x=1"), (b"PATH_INFO", b"/hello"),
    (b"DOCUMENT_ROOT", b"/usr/share/nginx/html"), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
    (b"REQUEST_SCHEME", b"https"), (b"HTTPS", b"on"), (b"REMOTE_ADDR", b"192.0.2.10"),
    (b"REMOTE_PORT", b"51234"), (b"SERVER_PORT", b"443"), (b"SERVER_NAME", b"example.org"),
    (b"HTTP_HOST", b"example.org"), (b"HTTP_USER_AGENT", b"curl/7.88.1"),
    (b"HTTP_COOKIE", b"a=1"), (b"HTTP_COOKIE", b"b=2"),
]
POST = [(b"REQUEST_METHOD", b"POST"), (b"CONTENT_TYPE", b"text/plain"), (b"CONTENT_LENGTH", b"11")]

SEEDS = {
    "nginx_get": (0, 0, packet(NGINX)),
    "post": (0, 3, packet(POST, b"hello world")),
    "no_default_runtime": (2, 7, packet(POST, b"hello world")),
    "post_limit": (4, 1, packet(POST, b"hello world")),
    "post_big": (0, 4, packet(POST[:2] + [(b"CONTENT_LENGTH", b"6000")], b"x" * 6000)),
    "small_buffer": (1, 2, packet(NGINX)),
    "modifier5": (8, 0, packet(NGINX, mod1=5)),
    "modifier30": (0, 0, packet(NGINX + [(b"SCRIPT_NAME", b"/he")], mod1=30)),
    "modifier30_no_default": (2, 0, packet(NGINX, mod1=30)),
    "no_runtime": (0, 0, packet(NGINX, mod1=7)),
    "no_runtime_name": (8, 0, packet(NGINX, mod1=2)),
    "overrun": (0, 0, packet(POST, datasize=200)),
    "zero_key": (0, 0, packet([(b"", b"v")])),
    "bad_length": (0, 0, packet([(b"CONTENT_LENGTH", b"1x")])),
    "short_body": (0, 9, packet(POST, b"hel")),
    "empty": (0, 0, packet([])),
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "corpus"
    os.makedirs(out, exist_ok=True)
    for name, (cfg, seed, data) in SEEDS.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([cfg, seed]) + data)
    # The real thing, captured from nginx (see nginx_capture_test.cpp).
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "nginx_post.bin"), "rb") as f:
        captured = f.read()
    for cfg in (0, 8):
        with open(os.path.join(out, "nginx_capture_%d" % cfg), "wb") as f:
            f.write(bytes([cfg, 5]) + captured)


if __name__ == "__main__":
    main()
