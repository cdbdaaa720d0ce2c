"""Voice self-service (IVR): dialog engine, menus, channels (SIP, browser voice, simulator).

Public API (docs/architecture.md, "selfservice"): recent_calls, call_context, self_service_rate,
connection_rate, CallRecord; the SIP line is `selfservice.sip.start_sip`.
"""

from selfservice.models import CallRecord
from selfservice.records import call_context, connection_rate, recent_calls, self_service_rate

__all__ = ["CallRecord", "call_context", "connection_rate", "recent_calls", "self_service_rate"]
