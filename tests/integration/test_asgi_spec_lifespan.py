"""ASGI black-box suite: the lifespan protocol (asgiref "Lifespan Protocol"
2.0, with the `state` namespace) and the server's --lifespan auto|on|off.

- startup runs, and completes, before any request is served;
- shutdown runs when the server stops gracefully, after the requests in
  flight have finished, and the server waits for shutdown.complete;
- startup.failed stops the server with the application's message: a
  non-zero exit, and no loop of workers starting again;
- an application that raises on the lifespan scope (one that does not know
  the protocol) is still served under --lifespan auto;
- --lifespan off never calls the application with a lifespan scope;
- scope["state"]: what startup put there is in every request's scope, as a
  shallow copy.
"""
import json
import signal
import socket

import pytest

from asgi_spec_support import asgi, dec, http_request_bytes  # noqa: F401
from conftest import http_get, wait_until

APP = r'''
STARTED = False

async def startup(scope):
    global STARTED
    if os.environ.get("GATED_STARTUP"):
        await wait_file("startup-gate")
    if "state" in scope:
        scope["state"]["db"] = "pool-of-%d" % os.getpid()
        scope["state"]["shared"] = []
        scope["state"]["counter"] = 0
    STARTED = True

async def shutdown(scope):
    if os.environ.get("GATED_SHUTDOWN"):
        await wait_file("shutdown-gate")

async def app(scope, receive, send):
    if await lifespan(scope, receive, send, startup, shutdown):
        return
    await read_body(receive)
    if scope["path"] == "/slow":
        note("requests.log", state="slow started")
        await wait_file("slow-gate")
        note("requests.log", state="slow ending")
        await respond(send, b"slow done")
        return
    state = scope.get("state")
    seen = None if state is None else {"keys": sorted(state), "db": state.get("db"),
                                       "shared": list(state.get("shared", [])), "counter": state.get("counter")}
    if state is not None:
        # a request changes its copy: rebinding a key stays in this request,
        # mutating a shared object is seen by all (a shallow copy)
        state["counter"] = state.get("counter", 0) + 1
        state["added-by-request"] = True
        state.get("shared", []).append(scope["path"])
    await respond_json(send, {"started": STARTED, "state": seen, "pid": os.getpid()})
'''


def events(s):
    return [n["event"] for n in s.notes("lifespan.log")]


def test_the_lifespan_scope(asgi):
    s = asgi(APP)
    notes = s.wait_notes("lifespan.log", lambda ns: any(n["event"] == "lifespan.startup" for n in ns))
    [scope] = [n["scope"] for n in notes if n["event"] == "scope"]
    assert scope["type"] == "lifespan"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["asgi"].get("spec_version", "1.0") in ("1.0", "2.0")


def test_the_lifespan_scope_carries_an_empty_state_dict(asgi):
    s = asgi(APP)
    notes = s.wait_notes("lifespan.log", lambda ns: any(n["event"] == "scope" for n in ns))
    [scope] = [n["scope"] for n in notes if n["event"] == "scope"]
    assert scope.get("state") == {}, scope


def test_startup_completes_before_any_request_is_served(asgi):
    """"A server must wait for this message before it starts processing
    connections": while startup waits for its gate, no request is answered;
    every answer afterwards says startup had finished."""
    s = asgi(APP, wait=False, env={"GATED_STARTUP": "1"})
    assert s.wait_notes("lifespan.log", lambda ns: "lifespan.startup" in [n["event"] for n in ns], timeout=20)
    # A request now is refused or left waiting, never answered.
    early = None
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=1)
        c.sendall(http_request_bytes("GET", "/early", [("Connection", "close")]))
        c.settimeout(1.0)
        try:
            early = c.recv(65536)
        except socket.timeout:
            early = None
    except OSError:
        c = None  # nobody listens yet: refused
    assert not early, early
    s.open_gate("startup-gate")
    assert s.wait_ready(), s.log()
    status, body = http_get(s.port, "/after")
    assert status == 200 and dec(json.loads(body))["started"] is True
    if c is not None and early is None:
        # the request that waited is answered now, after startup
        c.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
        if data:
            assert b'"started": true' in data, data
        c.close()
    assert events(s)[:2] == ["scope", "lifespan.startup"]


def test_shutdown_runs_on_graceful_stop_after_requests_in_flight(asgi):
    s = asgi(APP)
    c = socket.create_connection(("127.0.0.1", s.port), timeout=20)
    c.sendall(http_request_bytes("GET", "/slow", [("Connection", "close")]))
    assert s.wait_notes("requests.log")
    s.send(signal.SIGTERM)
    # the request in flight is still answered...
    s.open_gate("slow-gate")
    data = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        data += chunk
    c.close()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"slow done"), data
    # ...and the server exits cleanly once shutdown completed
    assert s.proc.wait(timeout=20) == 0, s.log()
    assert events(s) == ["scope", "lifespan.startup", "lifespan.shutdown", "shutdown.complete sent"], events(s)
    # shutdown came after the request in flight ended (the notes share a clock: file order)
    req = s.notes("requests.log")
    assert [n["state"] for n in req] == ["slow started", "slow ending"]


def test_the_server_waits_for_shutdown_complete(asgi):
    """"A server must wait for this message before terminating"."""
    s = asgi(APP, env={"GATED_SHUTDOWN": "1"})
    s.send(signal.SIGTERM)
    assert s.wait_notes("lifespan.log", lambda ns: "lifespan.shutdown" in [n["event"] for n in ns])
    # still running while the application's shutdown waits
    assert s.proc.poll() is None
    try:
        s.proc.wait(timeout=1.0)
    except Exception:
        pass
    assert s.proc.poll() is None, s.log()
    s.open_gate("shutdown-gate")
    assert s.proc.wait(timeout=20) == 0, s.log()
    assert events(s)[-1] == "shutdown.complete sent"


def test_every_worker_runs_its_own_lifespan(asgi):
    """"In a multi-process environment there will be lifespan events in each
    process": two workers, two startups (two pids), two shutdowns."""
    s = asgi(APP, processes=2)
    notes = s.wait_notes("lifespan.log", lambda ns: sum(n["event"] == "lifespan.startup" for n in ns) == 2)
    assert len({n["pid"] for n in notes if n["event"] == "lifespan.startup"}) == 2, notes
    assert s.stop() == 0
    notes = s.notes("lifespan.log")
    starts = {n["pid"] for n in notes if n["event"] == "lifespan.startup"}
    stops = {n["pid"] for n in notes if n["event"] == "lifespan.shutdown"}
    assert starts == stops and len(stops) == 2, notes


FAILING_APP = r'''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        m = await receive()
        note("lifespan.log", event=m["type"])
        await send({"type": "lifespan.startup.failed", "message": "cannot reach the database XYZZY-42"})
        return
    await respond(send, b"should never be served")
'''


@pytest.mark.parametrize("processes", [1, 2])
def test_a_failed_startup_stops_the_server_with_the_message(asgi, processes):
    s = asgi(FAILING_APP, wait=False, processes=processes)
    # the server exits by itself, not successfully
    assert wait_until(lambda: s.proc.poll() is not None, timeout=30), s.log()
    assert s.proc.returncode != 0
    # "the server should log/print the message provided and then exit"
    assert "cannot reach the database XYZZY-42" in s.log(), s.log()
    # no respawn loop: startup was tried at most once per worker
    tries = [n["event"] for n in s.notes("lifespan.log")]
    assert tries and set(tries) == {"lifespan.startup"} and len(tries) <= processes, tries
    # nothing ever served
    try:
        status = http_get(s.port, "/", timeout=2)[0]
    except OSError:
        status = None
    assert status is None


SHUTDOWN_FAILING_APP = r'''
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            m = await receive()
            note("lifespan.log", event=m["type"])
            if m["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.failed", "message": "could not flush the queue QX-77"})
                return
    await read_body(receive)
    await respond(send, b"up")
'''


def test_a_failed_shutdown_is_logged_and_the_server_still_exits(asgi):
    """"If a server sees this it should log/print the message provided and
    then terminate"."""
    s = asgi(SHUTDOWN_FAILING_APP)
    from conftest import http_get as get
    assert get(s.port, "/") == (200, b"up")
    s.send(signal.SIGTERM)
    assert wait_until(lambda: s.proc.poll() is not None, timeout=20), s.log()
    assert "could not flush the queue QX-77" in s.log(), s.log()
    assert [n["event"] for n in s.notes("lifespan.log")] == ["lifespan.startup", "lifespan.shutdown"]


RAISING_APP = r'''
async def app(scope, receive, send):
    note("calls.log", type=scope["type"])
    if scope["type"] != "http":
        raise ValueError("only http here: " + scope["type"])
    await read_body(receive)
    await respond(send, b"served without lifespan")
'''


def test_an_application_that_raises_on_lifespan_is_served_under_auto(asgi):
    """"If an exception is raised when calling the application callable
    with a lifespan.startup message or a scope with type lifespan, the
    server must continue but not send any lifespan events"."""
    s = asgi(RAISING_APP, lifespan="auto")
    assert http_get(s.port, "/") == (200, b"served without lifespan")
    assert s.stop() == 0
    # called once with the lifespan scope, then only for http: no shutdown call
    types = [n["type"] for n in s.notes("calls.log")]
    assert types[0] == "lifespan" and types[1:] == ["http"], types


def test_lifespan_on_makes_a_raising_lifespan_fatal(asgi):
    """--lifespan on: the application must support lifespan; if it raises
    instead, the server does not start (as uvicorn's --lifespan on)."""
    s = asgi(RAISING_APP, lifespan="on", wait=False)
    assert wait_until(lambda: s.proc.poll() is not None, timeout=30), s.log()
    assert s.proc.returncode != 0
    assert "only http here: lifespan" in s.log(), s.log()


def test_lifespan_off_never_calls_the_application_with_a_lifespan_scope(asgi):
    s = asgi(RAISING_APP, lifespan="off")
    assert http_get(s.port, "/") == (200, b"served without lifespan")
    assert s.stop() == 0
    assert [n["type"] for n in s.notes("calls.log")] == ["http"]
    assert "only http here" not in s.log()


def test_state_from_startup_is_in_every_request_scope_as_a_shallow_copy(asgi):
    s = asgi(APP)
    conn_outs = []
    for i in range(3):
        status, body = http_get(s.port, f"/r{i}")
        assert status == 200
        conn_outs.append(dec(json.loads(body)))
    first, second, third = conn_outs
    pid = first["pid"]
    assert first["state"] is not None, "no scope['state'] in the request"
    assert first["state"]["db"] == f"pool-of-{pid}"
    assert first["state"]["keys"] == ["counter", "db", "shared"]
    # a key a request rebinds or adds stays in that request's copy...
    assert [o["state"]["counter"] for o in conn_outs] == [0, 0, 0]
    assert all("added-by-request" not in o["state"]["keys"] for o in conn_outs)
    # ...but the objects are shared (shallow copy): each request saw the
    # list that the requests before it appended to
    assert first["state"]["shared"] == []
    assert second["state"]["shared"] == ["/r0"]
    assert third["state"]["shared"] == ["/r0", "/r1"]


def test_state_is_absent_or_empty_without_lifespan(asgi):
    """With --lifespan off there is no startup to fill the state: a request
    gets no state, or an empty one, never one left over from elsewhere."""
    s = asgi(APP, lifespan="off")
    status, body = http_get(s.port, "/x")
    out = dec(json.loads(body))
    assert status == 200 and out["started"] is False
    assert out["state"] is None or out["state"]["keys"] == []
