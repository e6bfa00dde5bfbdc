"""A FastAPI application for test_asgi_apps.py: path and query
validation, a pydantic request body (422 when invalid), a streaming
response and a background task."""
import asyncio

from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

app = FastAPI()
log = []


class Item(BaseModel):
    name: str
    price: float
    tags: list = []


@app.get("/")
async def root():
    return {"hello": "fastapi"}


@app.get("/items/{item_id}")
async def read_item(item_id: int, q: str = None):
    return {"item_id": item_id, "q": q}


@app.post("/items")
async def create_item(item: Item):
    return {"name": item.name, "price_with_tax": round(item.price * 1.2, 2), "tags": item.tags}


@app.get("/sync")
def sync_route():
    # A def route: FastAPI runs it in a thread (anyio's to_thread).
    return {"sync": True}


@app.get("/stream")
async def stream():
    async def gen():
        for i in range(3):
            yield f"chunk {i}\n".encode()
            await asyncio.sleep(0.01)
    return StreamingResponse(gen(), media_type="text/plain")


@app.post("/notify")
async def notify(background_tasks: BackgroundTasks):
    background_tasks.add_task(log.append, "notified")
    return {"queued": True}


@app.get("/log")
async def read_log():
    return {"log": log}
