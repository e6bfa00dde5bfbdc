// The few parts of the runtime written in Python, off the hot path: the
// coroutine that runs one request's application and reports how it ended,
// the lifespan protocol, and the driver that runs the worker's loop inside
// the asyncio loop. Compiled from source once per worker (GIL held).
#pragma once

namespace trellis::asgi {

extern const char* const kBootstrapSource;

}  // namespace trellis::asgi
