"""Answers with the version written in $APP_VERSION_FILE when it was
imported, so a test can tell which code a reload brought in."""
import os
import time

with open(os.environ["APP_VERSION_FILE"]) as f:
    VERSION = f.read().strip()

if VERSION == "broken":
    raise RuntimeError("this deploy is broken on purpose")

# A little import time, like a real application's.
time.sleep(float(os.environ.get("APP_IMPORT_SECONDS", "0.2")))


def application(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(1.0)
    body = VERSION.encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
