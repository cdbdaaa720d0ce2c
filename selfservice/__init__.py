"""Voice self-service (IVR): dialog engine, menus, channels (SIP, browser voice, simulator).

Public API (docs/architecture.md, "selfservice"): recent_calls, call_context, self_service_rate,
CallRecord; the call centre's figures: `call_centre_kpis` (接通率, 15秒接通率, waits, abandons, handle
times), `wallboard`; the SIP line is `selfservice.sip.start_sip`.
"""

from selfservice.acd import kpis as call_centre_kpis
from selfservice.acd import kpis_by_agent, kpis_by_hour, wallboard
from selfservice.models import CallRecord
from selfservice.records import call_context, recent_calls, self_service_rate

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
