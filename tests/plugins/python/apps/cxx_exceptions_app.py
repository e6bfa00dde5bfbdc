"""Routes that make the python plugin allocate with C++ in proportion to
what the application does (a line spanning reads, a partial line on
wsgi.errors, a long header list). python_cxx_exceptions_test.cpp makes those
allocations fail: the application must see a MemoryError it can catch,
never a server that dies in std::terminate.
"""

BIG = 4 << 20  # well past the test's 1 MiB allocation limit


def app(environ, start_response):
    path = environ["PATH_INFO"]
    outcome = "hello"
    try:
        if path == "/readline":
            line = environ["wsgi.input"].readline()
            outcome = "read %d bytes" % len(line)
        elif path == "/errors":
            environ["wsgi.errors"].write("y" * BIG)
            outcome = "logged"
        elif path == "/headers":
            start_response("200 OK", [("X-H%d" % i, "v") for i in range(40000)])
            return [b"sent"]
        elif path == "/read":
            environ["wsgi.input"].read()  # the reader refuses: OSError, not caught
    except MemoryError as e:
        outcome = "MemoryError %s" % (e.args,)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [outcome.encode()]
