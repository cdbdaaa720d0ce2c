"""The IVR's SIP line (PJSIP via pjsua2 in child processes): `SipServer`, `start_sip`.

Imports are lazy (PEP 562): the PJSIP child processes import selfservice.sip.endpoint, and with it this
package, and must stay small (~30 MB each, see server.py)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfservice.menu import Menu
    from selfservice.sip.channel import SipChannel
    from selfservice.sip.server import SipLineError, SipServer, caller_number

_LAZY = {
    "SipChannel": "selfservice.sip.channel",
    "SipLineError": "selfservice.sip.server",
    "SipServer": "selfservice.sip.server",
    "caller_number": "selfservice.sip.server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


async def start_sip(host: str | None = None, port: int | None = None) -> SipServer:
    """Start answering SIP calls with the IVR dialog (menu from the settings' data directory) and the
    call centre's switchboard (queue, agents' phones, recording)."""
    import casework
    from hotline import node
    from hotline.config import get_settings
    from selfservice.engine import Dialog
    from selfservice.menu import load_menu
    from selfservice.sip.server import SipServer, processes_for
    from selfservice.switchboard import Switchboard

    settings = get_settings()
    menu = load_menu()  # validated now: a broken menu file stops the start with a clear error
    switchboard: Switchboard | None = None

    async def dialog(channel: SipChannel) -> str:
        call = Dialog(channel, menu, switchboard=switchboard)
        # what the call queues counts as this caller's: SMS only to the calling number, per-caller caps
        origin = casework.Origin.call(channel="sip", call_id=call.call_id, caller_number=channel.caller_number)
        with casework.acting_as(origin):
            return await call.run()

    server = SipServer(
        host or settings.sip_host,
        port or settings.sip_port,
        settings.recordings_dir,
        dialog,
        # behind Kamailio a pool spreads the callers (4 call legs per PJSIP process); alone, one process
        processes=processes_for(settings.sip_max_calls) if settings.kamailio_enabled else 1,
        rtp_port=settings.sip_rtp_port,
        drain_flag=node.drain_file(),  # `hotline node drain`: new calls refused with 503
    )
    server.on_calls = node.write_sip_calls  # for `hotline node status`
    try:
        await server.start()
    except BaseException:
        await server.stop()  # no endpoint process left behind (or respawning) after a failed start
        raise
    node.write_sip_calls(0)  # this process answers the node's line now
    switchboard = Switchboard(server, menu)
    switchboard.start()
    # the voice loaded and the menu's fixed prompts rendered now (the menu is read at start: a changed
    # menu is rendered by the restart that loads it), then the most-read documents, again every
    # PRERENDER_EVERY seconds (a document's new revision, a document that became much read)
    stopped = threading.Event()
    threading.Thread(target=_prepare_audio, args=(menu, stopped), name="prompts", daemon=True).start()
    server.on_stop.append(switchboard.stop)

    async def stop_rendering() -> None:
        stopped.set()

    server.on_stop.append(stop_rendering)
    return server


PRERENDER_EVERY = 600.0


def _prepare_audio(menu: Menu, stopped: threading.Event) -> None:
    import speech
    from hotline.config import get_settings
    from hotline.db import session_scope
    from selfservice import prompts, voicemail
    from selfservice.engine import prerender_documents

    log = logging.getLogger("hotline.sip")
    try:
        speech.warm_up()
        with session_scope() as session:  # the prompts as the administrators edited them
            spoken = prompts.effective_menu(session, menu)
        speech.prerender(spoken.fixed_texts(), rate=8000)
    except Exception:  # the prompts are rendered on first use instead
        log.exception("rendering the menu prompts ahead failed")
    try:
        queued = voicemail.queue_pending()  # voicemails left before a restart get their transcript
        if queued:
            log.info("%d voicemail(s) queued for transcription", queued)
    except Exception:  # `hotline ivr transcribe` does them
        log.exception("queueing the pending voicemails failed")
    while not stopped.is_set():
        try:
            prerender_documents(menu, get_settings().tts_prerender_documents, 8000)
        except Exception:  # rendered when first read instead
            log.exception("rendering the most-read documents ahead failed")
        stopped.wait(PRERENDER_EVERY)


__all__ = ["SipChannel", "SipLineError", "SipServer", "caller_number", "start_sip"]
