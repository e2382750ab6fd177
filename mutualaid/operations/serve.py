"""The daphne that `deploy/run.sh daphne N` starts: daphne itself, with a graceful stop.

What daphne 4.2 does on SIGTERM: Twisted's signal handler stops the reactor at once;
daphne's one shutdown hook cancels every running application instance, and Twisted then
drops every connection. A request being handled is cancelled while its database work goes
on in a thread (committed, and the client gets no answer: a retry files a duplicate);
every socket ends without a close frame; and the thread that then publishes the request's
live event waits forever for the stopped event loop (`async_to_sync`), so the interpreter,
which joins its threads on exit, never exits (measured: over 60 s, until SIGKILL).

Here SIGTERM (or SIGINT) drains first:

1. stop listening: new connections go to another daphne (nginx tries the next upstream);
2. send every open socket a close frame, 1001 "going away" (static/js/live.js reconnects,
   to another daphne), and answer a request that arrives on a connection already open
   with 503 and Retry-After (nothing of it is done);
3. let running requests and consumers finish (their answers are sent, the sockets' groups
   left), for at most `--drain-seconds` (default 15, under systemd's TimeoutStopSec);
4. stop as daphne does, then exit without waiting for threads still stuck (a request
   that outlived the drain is cancelled, as before, but no longer holds the process).

A second signal stops at once. Every other argument is daphne's own.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
import time

import daphne.server  # noqa: F401  (first: it installs Twisted's asyncio reactor)
from daphne.cli import CommandLineInterface
from daphne.server import Server
from daphne.ws_protocol import WebSocketProtocol
from twisted.internet import reactor

logger = logging.getLogger("mutualaid.serve")

GOING_AWAY = 1001
RESTARTING_TEXT = b"This server is restarting: try again in a few seconds.\n"


async def refuse_while_draining(scope, receive, send) -> None:
    """The application for connections that come in while draining (already open ones)."""
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 503,
                "headers": [
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"retry-after", b"5"),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": RESTARTING_TEXT})
    elif scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": GOING_AWAY})


class GracefullyStoppingServer(Server):
    """daphne's `Server`, stopping on SIGTERM only once it has drained (see the module)."""

    drain_seconds = 15.0
    poll_seconds = 0.05

    def run(self) -> None:
        self.listening_ports = []
        self.drain_started: float | None = None
        if self.signal_handlers:
            self.signal_handlers = False  # not Twisted's (they stop at once): ours, below
            reactor.callWhenRunning(self.install_signal_handlers)
        super().run()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_event_loop()
        for number in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(number, self.stop_gracefully, number)

    def listen_success(self, port) -> None:
        self.listening_ports.append(port)
        super().listen_success(port)

    def stop_gracefully(self, number: int) -> None:
        if self.drain_started is not None:
            logger.warning("Second %s while draining: stopping now", signal.Signals(number).name)
            self.stop()
            return
        self.drain_started = time.monotonic()
        logger.info(
            "%s: draining %d connections (at most %.0f s)",
            signal.Signals(number).name,
            len(self.connections),
            self.drain_seconds,
        )
        for port in self.listening_ports:
            port.stopListening()
        self.application = refuse_while_draining
        self.stop_when_drained()

    def stop_when_drained(self) -> None:
        busy = 0
        for protocol, details in list(self.connections.items()):
            if isinstance(protocol, WebSocketProtocol) and "disconnected" not in details:
                # Also a socket that its consumer accepted after the drain began.
                if protocol.state == protocol.STATE_OPEN:
                    # autobahn's sendClose allows a server only 1000 and 3000-4999; 1001 is
                    # the protocol's own code for a server going away (RFC 6455, 7.4.1).
                    protocol.sendCloseFrame(code=GOING_AWAY, reasonUtf8=b"server restarting")
                busy += 1
                continue
            instance = details.get("application_instance")
            if instance is not None and not instance.done():
                busy += 1
        waited = time.monotonic() - self.drain_started
        if busy and waited < self.drain_seconds:
            reactor.callLater(self.poll_seconds, self.stop_when_drained)
            return
        if busy:
            logger.warning("Drain time over after %.1f s: %d connections still busy, stopping", waited, busy)
        else:
            logger.info("Drained in %.1f s: stopping", waited)
        self.stop()


class GracefullyStoppingCommandLineInterface(CommandLineInterface):
    server_class = GracefullyStoppingServer

    def run(self, args: list[str]) -> None:
        ours = argparse.ArgumentParser(add_help=False)
        ours.add_argument("--drain-seconds", type=float, default=GracefullyStoppingServer.drain_seconds)
        known, rest = ours.parse_known_args(args)
        GracefullyStoppingServer.drain_seconds = known.drain_seconds
        super().run(rest)


def main(args: list[str]) -> int:
    try:
        GracefullyStoppingCommandLineInterface().run(args)
    except SystemExit as exit_request:
        code = exit_request.code if isinstance(exit_request.code, int) else 1
    else:
        code = 0
    leftover = [thread.name for thread in threading.enumerate() if thread is not threading.main_thread()]
    if leftover:
        logger.info("Exiting without waiting for %d threads: %s", len(leftover), ", ".join(leftover))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    # Not sys.exit: that joins every thread, and one stuck on the stopped loop never ends.
    os._exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
