#include "bootstrap.hpp"

namespace trellis::asgi {

// `_native` is the plugin's C module (set before this runs): app_done,
// turn and the state it keeps.
const char* const kBootstrapSource = R"PY(
import sys

async def run(app, scope, receive, send, req, done=_native.app_done):
    # One request: the application, then the runtime learns how it ended
    # (an exception, with its traceback, or a normal return).
    try:
        await app(scope, receive, send)
    except BaseException:
        done(req, sys.exc_info()[1])
        # Cancellation (harakiri, shutdown) and exits end the task as asked.
        if not isinstance(sys.exc_info()[1], Exception):
            raise
    else:
        done(req, None)


class Lifespan:
    """The lifespan protocol (ASGI 3.0 lifespan 2.0) for one worker."""

    def __init__(self, app, loop, mode, log):
        self.app = app
        self.loop = loop
        self.mode = mode  # "auto" or "on"
        self.log = log
        self.state = {}
        self.inbox = None
        self.startup_done = loop.create_future()
        self.shutdown_done = loop.create_future()
        self.task = None
        self.supported = True
        self.failure = None  # startup's message when it failed

    async def receive(self):
        return await self.inbox.get()

    async def send(self, message):
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "lifespan.startup.complete":
            self._settle(self.startup_done, None)
        elif kind == "lifespan.startup.failed":
            self._settle(self.startup_done, message.get("message", "") or "lifespan startup failed")
        elif kind == "lifespan.shutdown.complete":
            self._settle(self.shutdown_done, None)
        elif kind == "lifespan.shutdown.failed":
            self.log(3, "asgi: lifespan shutdown failed: %s" % (message.get("message", ""),))
            self._settle(self.shutdown_done, None)
        else:
            raise RuntimeError("asgi: unexpected lifespan message %r" % (message,))

    @staticmethod
    def _settle(fut, value):
        if not fut.done():
            fut.set_result(value)

    async def _main(self):
        import asyncio
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self.receive, self.send)
        except BaseException as e:
            if not self.startup_done.done():
                if self.mode == "auto":
                    self.supported = False
                    self.log(2, "asgi: the application does not support lifespan (%s: %s); going on without it"
                             % (type(e).__name__, e))
                    self._settle(self.startup_done, None)
                else:
                    import traceback
                    self._settle(self.startup_done, "the application raised in lifespan startup:\n"
                                 + "".join(traceback.format_exception(e)).rstrip())
            elif not self.shutdown_done.done():
                import traceback
                self.log(4, "asgi: the application raised in lifespan shutdown:\n"
                         + "".join(traceback.format_exception(e)).rstrip())
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
        finally:
            # An application that returns early settles both.
            if not self.startup_done.done():
                self._settle(self.startup_done, None if self.mode == "auto" else
                             "the application returned during lifespan startup")
            self._settle(self.shutdown_done, None)

    def startup(self):
        """Runs startup to its end. None, or the failure's message."""
        import asyncio
        self.inbox = asyncio.Queue()
        self.inbox.put_nowait({"type": "lifespan.startup"})
        self.task = self.loop.create_task(self._main())
        result = self.loop.run_until_complete(self.startup_done)
        if result is not None:
            self.supported = False
        return result

    def shutdown(self):
        if not self.supported or self.task is None or self.task.done():
            return
        self.inbox.put_nowait({"type": "lifespan.shutdown"})
        self.loop.run_until_complete(self.shutdown_done)


def drive(loop, fd, turn, DONE=-2):
    """Runs the worker's loop inside `loop` until the worker has drained:
    a turn whenever the worker's loop descriptor polls readable, and once
    the delay the last turn asked for has passed."""
    finished = loop.create_future()
    timer = None
    timer_when = 0.0
    call_later = loop.call_later
    time = loop.time

    def step():
        nonlocal timer, timer_when
        delay = turn()
        if delay == DONE:
            loop.remove_reader(fd)
            if timer is not None:
                timer.cancel()
                timer = None
            if not finished.done():
                finished.set_result(None)
            return
        if delay < 0:
            return
        when = time() + delay / 1000.0
        if timer is not None:
            if timer_when <= when + 0.0005:
                return  # the one set already comes soon enough
            timer.cancel()
        timer_when = when
        timer = call_later(delay / 1000.0, on_timer)

    def on_timer():
        nonlocal timer
        timer = None
        step()

    loop.add_reader(fd, step)
    loop.call_soon(step)
    loop.run_until_complete(finished)
)PY";

}  // namespace trellis::asgi
