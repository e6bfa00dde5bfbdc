"""ASGI hello world for bench/asgi.sh: the same module for every server
(trellis --asgi-file, uvicorn and hypercorn asgi_hello:app).

A fixed "Hello World!" with a Content-Length (so every server keeps the
connection alive), and the lifespan protocol answered, so no server logs
a lifespan error or skips it differently from the others.
"""

BODY = b"Hello World!"
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"12")],
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
    await send(START)
    await send(END)


application = app
