"""ASGI view that awaits asyncio.sleep(0.1) before answering, for
bench/asgi.sh: at 512 connections the ideal is 512 / 0.1 s = 5,120 req/s
whatever the worker count, so the figure shows how close each server's
event loop comes to running every request concurrently.
"""
import asyncio

BODY = b"slept 100 ms"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(BODY))],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await asyncio.sleep(0.1)
    await send(START)
    await send(END)


application = app
