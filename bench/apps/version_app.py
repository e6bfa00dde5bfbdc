"""Answers the version string read, once at import time, from version.txt
next to this file: bench/reload.sh rewrites the file before each reload and
checks that the new value is served afterwards."""
import os

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "version.txt"), "rb") as f:
    VERSION = f.read().strip()


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(VERSION)))])
    return [VERSION]
