"""examples/hello.py plus a Content-Length header.

uWSGI's --http11-socket keeps a connection alive only when the response is
framed; without Content-Length it closes after every response (and wrk then
counts nothing). Every server gets this same app in the keep-alive runs.
"""

BODY = b"Hello World!"
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def application(environ, start_response):
    start_response("200 OK", HEADERS)
    return [BODY]
