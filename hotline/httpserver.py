"""The HTTP protocol of `hotline serve`: uvicorn's h11 protocol with a header-read timeout, and a
connection that stays open after a request that ended in an error page.

- Header-read timeout (`HOTLINE_HEADER_TIMEOUT`, seconds): a connection must send a complete request
  head within this time of opening, and each further request on a keep-alive connection within this
  time of its first byte; else it is closed. uvicorn has no such timer: a connection that sends half
  a request line (or nothing) was held until the client left (300 half-open connections held a worker's
  file descriptors). Idle keep-alive between requests is uvicorn's own `timeout_keep_alive`
  (`HOTLINE_KEEPALIVE_TIMEOUT`). A WebSocket upgrade (`/voice/ws`) leaves this protocol once its
  request head is read: the timer is cancelled with the upgrade.
- After an unexpected exception, Starlette sends the error page (web.app's handler, in Chinese) and
  then raises the exception again "for the server to log"; uvicorn then closes the connection. Here it
  is dropped once the page has been sent whole (web.app has logged it), so the keep-alive connection
  stays usable. A response cut off half-way still closes the connection (the client cannot tell where
  it ended).

docs/security.md ("Slow and broken clients").
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from hotline.config import get_settings

log = logging.getLogger("hotline.serve")


class _KeepConnectionAfterSentError:
    """ASGI wrapper: an exception raised after its response was sent whole is not the server's concern."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        complete = False

        async def watch(message: Any) -> None:
            nonlocal complete
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True

        try:
            await self.app(scope, receive, watch)
        except Exception:
            if not complete or scope["type"] != "http":
                raise
            log.debug("error after a complete response on %s; connection kept", scope.get("path"))


class HotlineH11Protocol(H11Protocol):
    """uvicorn's H11Protocol plus the header-read timeout and the kept connection (module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.app = _KeepConnectionAfterSentError(self.app)
        self.header_timeout = get_settings().header_timeout
        self.header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a request head begun, not complete yet
            self._arm_header_timer()
        else:
            self._cancel_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        self._cancel_header_timer()
        super().handle_websocket_upgrade(event)

    def _arm_header_timer(self) -> None:
        if self.header_timer is None and self.header_timeout > 0:
            self.header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self.header_timer is not None:
            self.header_timer.cancel()
            self.header_timer = None

    def _header_timed_out(self) -> None:
        self.header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
