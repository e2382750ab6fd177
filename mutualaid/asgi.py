"""ASGI entry point: HTTP and WebSockets from one daphne process.

`get_asgi_application()` comes first so Django is set up before the consumers import
models. Sockets must come from an allowed host and carry the session (see Channels'
security docs). With the in-memory channel layer (no REDIS_URL) the worker (`worker.loop`)
runs inside this process, so the events of its runs reach the sockets held here.
"""

import asyncio
import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mutualaid.settings")
django_asgi_application = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from notifications.routing import websocket_urlpatterns  # noqa: E402
from worker.loop import run_worker  # noqa: E402


class InProcessMatchingWorker:
    """Starts the worker in the server's event loop at the first connection.

    Daphne has no ASGI lifespan events, so the first call of any kind starts it.
    """

    def __init__(self, application) -> None:
        self.application = application
        self.task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if self.task is None and settings.MATCHING_WORKER == "in-process":
            self.task = asyncio.get_running_loop().create_task(run_worker())
        return await self.application(scope, receive, send)


application = InProcessMatchingWorker(
    ProtocolTypeRouter(
        {
            "http": django_asgi_application,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)

# Garbage collection paused live events: a full pass walks every object, and with 2,000
# sockets one took 190-330 ms (measured in daphne; see docs/live.md). What is loaded by now
# (Django, the project, its libraries) lives as long as the process, so it is frozen out of
# those passes; and young collections run every 50,000 allocations rather than 700, so the
# full passes they lead to come about 70 times less often (one per benchmark run instead
# of one every few bursts). The price is memory: garbage waits longer (daphne ended the
# in-memory benchmark at 305 MB instead of 235 MB).
gc.freeze()
gc.set_threshold(50_000, 20, 100)
