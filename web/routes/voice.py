"""Browser voice (网上语音咨询): the IVR in a web page, over a WebSocket (16 kHz PCM both ways)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import Response

import casework
from selfservice.browser_channel import BrowserChannel
from selfservice.engine import Dialog
from selfservice.menu import load_menu
from web.routes.citizen import client_key
from web.templating import render

log = logging.getLogger("hotline.voice")
router = APIRouter()
MAX_FRAME = 64 * 1024  # bytes of PCM in one message (2 s at 16 kHz)


@router.get("/voice")
def voice_page(request: Request) -> Response:
    return render(request, "voice/voice.html", {})


@router.websocket("/voice/ws")
async def voice_socket(websocket: WebSocket) -> None:
    await websocket.accept()
    channel = BrowserChannel(websocket.send_json, websocket.send_bytes)
    channel.client_key = client_key(websocket)  # progress-query limits and send caps: per client address
    call = Dialog(channel, load_menu())
    # everything the call queues counts as this anonymous caller's: no SMS to a typed number (a voicemail's
    # contact number included), caps per address (docs/security.md)
    origin = casework.Origin.call(channel=channel.name, call_id=call.call_id, client_key=channel.client_key)
    with casework.acting_as(origin):
        dialog = asyncio.create_task(call.run())  # the task keeps the origin (a copy of this context)
    try:
        while not dialog.done():
            receive = asyncio.create_task(websocket.receive())
            done, _ = await asyncio.wait({receive, dialog}, return_when=asyncio.FIRST_COMPLETED)
            if receive not in done:
                receive.cancel()
                break
            message = receive.result()
            if message["type"] == "websocket.disconnect":
                break
            if message.get("bytes"):
                channel.on_audio(message["bytes"][:MAX_FRAME])
            elif message.get("text"):
                _on_text(channel, message["text"])
    except WebSocketDisconnect:
        pass
    finally:
        channel.on_hangup()
        try:
            await dialog  # the dialog sees the hang-up and writes the call record
        except Exception:  # a failed call is logged, never dropped in silence
            log.exception("browser voice call failed; the call record has the path it took")
        with contextlib.suppress(Exception):  # closing a socket the page already closed: nothing lost
            await websocket.close()


def _on_text(channel: BrowserChannel, text: str) -> None:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return
    if not isinstance(data, dict):
        return
    if data.get("type") == "digit":
        channel.on_digit(str(data.get("digit", "")))
    elif data.get("type") == "hangup":
        channel.on_hangup()
