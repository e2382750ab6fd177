"""ASGI entry point: HTTP and WebSockets from one daphne process.

`get_asgi_application()` comes first so Django is set up before the consumers import
models. Sockets must come from an allowed host and carry the session (see Channels'
security docs). With the in-memory channel layer (no REDIS_URL) the matching worker runs
inside this process, so the events of its runs reach the sockets held here.
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


class InProcessMatchingWorker:
    """Starts the matching worker in the server's event loop at the first connection.

    Daphne has no ASGI lifespan events, so the first call of any kind starts it.
    """

    def __init__(self, application) -> None:
        self.application = application
        self.task: asyncio.Task | None = None

    async def __call__(self, scope, receive, send):
        if self.task is None and settings.MATCHING_WORKER == "in-process":
            from matching.worker import run_matching_worker

            self.task = asyncio.get_running_loop().create_task(run_matching_worker())
        return await self.application(scope, receive, send)


application = InProcessMatchingWorker(
    ProtocolTypeRouter(
        {
            "http": django_asgi_application,
            "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
        }
    )
)

# What is loaded by now (Django, the project, its libraries) lives as long as the process:
# freezing it keeps the collector's full passes from walking it again and again. With 2,000
# sockets a full pass paused every event for 115-330 ms; see docs/live.md.
gc.freeze()
