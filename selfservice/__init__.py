"""Voice self-service (IVR): dialog engine, menus, channels (SIP, browser voice, simulator), and the
call centre (ACD, switchboard, Kamailio front).

Public API (docs/architecture.md, "selfservice"): recent_calls, call_context, self_service_rate,
CallRecord; the call centre's figures: `call_centre_kpis` (接通率, 15秒接通率, waits, abandons, handle
times), `kpis_by_agent`, `kpis_by_hour`, `wallboard`; the SIP line is `selfservice.sip.start_sip`.
Imports are lazy (PEP 562) so that the PJSIP child processes, which import selfservice.sip.endpoint,
load nothing else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from selfservice.acd import kpis as call_centre_kpis
    from selfservice.acd import kpis_by_agent, kpis_by_hour, wallboard
    from selfservice.models import CallRecord
    from selfservice.records import call_context, recent_calls, self_service_rate

_LAZY = {
    "call_centre_kpis": ("selfservice.acd", "kpis"),
    "kpis_by_agent": ("selfservice.acd", "kpis_by_agent"),
    "kpis_by_hour": ("selfservice.acd", "kpis_by_hour"),
    "wallboard": ("selfservice.acd", "wallboard"),
    "CallRecord": ("selfservice.models", "CallRecord"),
    "call_context": ("selfservice.records", "call_context"),
    "recent_calls": ("selfservice.records", "recent_calls"),
    "self_service_rate": ("selfservice.records", "self_service_rate"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(name)


__all__ = [
    "CallRecord",
    "call_centre_kpis",
    "call_context",
    "kpis_by_agent",
    "kpis_by_hour",
    "recent_calls",
    "self_service_rate",
    "wallboard",
]
