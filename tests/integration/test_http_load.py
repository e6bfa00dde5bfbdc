"""HTTP/1.1 plugin under many concurrent keep-alive clients: every response
is correct, complete and on the connection that asked for it."""
import threading

from http_support import TESTAPP, Client, module_server, request  # noqa: F401

CLIENTS = 50
REQUESTS = 40


def test_50_keepalive_clients_x_40_requests(module_server):
    s = module_server(*TESTAPP, "--processes", "2")
    errors = []
    done = [0] * CLIENTS
    connections_per_client = [0] * CLIENTS
    barrier = threading.Barrier(CLIENTS)

    def client(n):
        try:
            c = Client(s.port, timeout=20)
            connections_per_client[n] = 1
            barrier.wait(timeout=20)
            for i in range(REQUESTS):
                kind = (n + i) % 4
                if kind == 0:
                    c.send(request("GET", "/"))
                    want = b"Hello World!"
                elif kind == 1:
                    size = (n * 997 + i * 131) % 70000
                    c.send(request("GET", f"/bytes/{size}"))
                    want = b"x" * size
                elif kind == 2:
                    want = f"client {n} request {i} ".encode() * (1 + i % 50)
                    c.send(request("POST", "/echo", body=want))
                else:
                    want = f"chunked {n}/{i}".encode()
                    c.send(request("POST", "/echo", headers=[("Transfer-Encoding", "chunked")])
                           + b"%x\r\n%s\r\n0\r\n\r\n" % (len(want), want))
                r = c.read_response()
                if r.status != 200 or not r.complete or r.body != want:
                    errors.append(f"client {n} request {i}: {r!r}")
                    return
                if "close" in r.connection_tokens():
                    errors.append(f"client {n} request {i}: server closed a keep-alive connection")
                    return
                done[n] += 1
            # Two more pipelined at the end, on the same connection.
            c.send(request("GET", "/bytes/10") + request("GET", "/bytes/11"))
            if c.read_response().body != b"x" * 10 or c.read_response().body != b"x" * 11:
                errors.append(f"client {n}: pipelined tail wrong")
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(f"client {n}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "clients still running after 60 s"
    assert not errors, "\n".join(errors[:10])
    assert sum(done) == CLIENTS * REQUESTS


def test_concurrent_connections_are_served_by_the_workers(module_server):
    # 40 connections opened at once, each request answered by one of the
    # server's own workers (the kernel spreads accepts; no fixed split).
    s = module_server(*TESTAPP, "--processes", "2")
    pids = set()
    clients = [Client(s.port) for _ in range(40)]
    try:
        for c in clients:
            c.send(request("GET", "/pid"))
        for c in clients:
            r = c.read_response()
            assert r.status == 200
            pids.add(int(r.body))
    finally:
        for c in clients:
            c.close()
    workers = set(s.workers())
    assert len(workers) == 2 and pids <= workers, (pids, workers)
