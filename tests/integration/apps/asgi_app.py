"""The ASGI application the runtime tests drive (test_asgi_runtime.py).

Routes: /hello, /scope (the scope as JSON), /echo (the body back, with how
many http.request messages carried it), /stream (three pieces, no length:
chunked), /big?n= (n bytes in 64 KiB pieces), /raise (before the start),
/raise-after (after a first piece), /noresponse, /sleep?ms=, /wait-disconnect
(answers nothing until the client goes, then logs it), /concurrency (how
many run at once, at most), /state (the lifespan state).
Lifespan: ASGI_APP_LIFESPAN=fail makes startup fail; =none: no lifespan
support (raises on the lifespan scope)."""
import asyncio
import json
import os
import sys

running = 0
most = 0


def text(s):
    return s.decode("latin-1") if isinstance(s, (bytes, bytearray)) else s


async def reply(send, status, body, ctype=b"text/plain", headers=()):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *headers]})
    await send({"type": "http.response.body", "body": body})


async def lifespan(scope, receive, send):
    mode = os.environ.get("ASGI_APP_LIFESPAN", "")
    if mode == "none":
        raise RuntimeError("no lifespan here")
    while True:
        m = await receive()
        if m["type"] == "lifespan.startup":
            if mode == "fail":
                await send({"type": "lifespan.startup.failed", "message": "the database is not there"})
                return
            scope["state"]["started"] = "yes"
            scope["state"]["pid"] = os.getpid()
            await send({"type": "lifespan.startup.complete"})
        elif m["type"] == "lifespan.shutdown":
            print("asgi_app: lifespan shutdown in", os.getpid(), flush=True)
            await send({"type": "lifespan.shutdown.complete"})
            return


async def app(scope, receive, send):
    global running, most
    if scope["type"] == "lifespan":
        return await lifespan(scope, receive, send)
    path = scope["path"]
    query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
    if path == "/hello":
        return await reply(send, 200, b"Hello, world!")
    if path == "/scope":
        shown = {k: v for k, v in scope.items() if k not in ("state",)}
        shown["headers"] = [[text(n), text(v)] for n, v in scope["headers"]]
        shown["raw_path"] = text(scope["raw_path"])
        shown["query_string"] = text(scope["query_string"])
        shown["has_state"] = "state" in scope
        return await reply(send, 200, json.dumps(shown).encode(), b"application/json")
    if path == "/echo":
        chunks, messages = [], 0
        while True:
            m = await receive()
            assert m["type"] == "http.request", m
            messages += 1
            chunks.append(m["body"])
            if not m.get("more_body", False):
                break
        body = b"".join(chunks)
        return await reply(send, 200, body, headers=[(b"x-messages", str(messages).encode())])
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for piece in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": piece, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/big":
        n = int(query.get("n", "1000000"))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(n).encode())]})
        piece = b"x" * 65536
        while n > 0:
            chunk = piece[:n]
            n -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": n > 0})
        return
    if path == "/raise":
        raise ValueError("boom before the start")
    if path == "/raise-after":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom after the start")
    if path == "/noresponse":
        return
    if path == "/sleep":
        await asyncio.sleep(int(query.get("ms", "100")) / 1000)
        return await reply(send, 200, b"slept")
    if path == "/wait-disconnect":
        m = await receive()  # the (empty) body
        m = await receive()
        print("asgi_app: got", m["type"], flush=True)
        return
    if path == "/concurrency":
        running += 1
        most = max(most, running)
        await asyncio.sleep(int(query.get("ms", "200")) / 1000)
        running -= 1
        return await reply(send, 200, str(most).encode())
    if path == "/state":
        return await reply(send, 200, json.dumps(scope.get("state")).encode(), b"application/json")
    return await reply(send, 404, b"not found")


application = app
