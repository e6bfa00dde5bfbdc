"""A Starlette application for test_asgi_apps.py: routing, JSON, a
request body, a streaming response, a background task, lifespan state."""
import asyncio
import contextlib

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route

done_tasks = []


async def home(request):
    return PlainTextResponse("starlette home")


async def items(request):
    return JSONResponse({"id": int(request.path_params["item_id"]), "q": request.query_params.get("q"),
                         "started": request.app.state.started})


async def echo(request):
    body = await request.body()
    return PlainTextResponse(body[::-1].decode(), headers={"x-length": str(len(body))})


async def stream(request):
    async def numbers():
        for i in range(5):
            yield f"{i}\n"
            await asyncio.sleep(0.01)
    return StreamingResponse(numbers(), media_type="text/plain")


async def background(request):
    async def later():
        await asyncio.sleep(0.05)
        done_tasks.append(1)
    return PlainTextResponse("queued", background=BackgroundTask(later))


async def tasks(request):
    return PlainTextResponse(str(len(done_tasks)))


@contextlib.asynccontextmanager
async def lifespan(app):
    app.state.started = True
    yield


app = Starlette(routes=[Route("/", home), Route("/items/{item_id}", items), Route("/echo", echo, methods=["POST"]),
                        Route("/stream", stream), Route("/background", background), Route("/tasks", tasks)],
                lifespan=lifespan)
