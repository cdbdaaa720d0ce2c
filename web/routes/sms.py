"""The SMS gateway's callbacks: Kannel delivery reports (dlr-url) for messages from the outbox, and
incoming SMS (smsbox's sms-service get-url): survey answers and new requests (casework.receive_sms)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import Response

import casework
from hotline.config import get_settings
from web.apimodels import GATEWAY, DeliveryReportOut
from web.security import SessionDep

router = APIRouter()


def _check_token(token: str, expected: str, refusal: str) -> None:
    """The token in the URL proves the call comes from our gateway (none set: every call refused)."""
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):  # bytes: any text
        raise HTTPException(403, refusal)


# Kannel DLR types: 1 delivered to the phone, 2 failed at the phone, 4 buffered, 8 accepted by the
# SMS centre, 16 rejected by the SMS centre
DELIVERED, FAILED, REJECTED = 1, 2, 16


@router.get("/api/sms/dlr", tags=[GATEWAY], response_model=DeliveryReportOut, response_model_exclude_none=True)
def delivery_report(
    db: SessionDep,
    id: str = Query(..., max_length=64),
    type: int = Query(...),
    token: str = Query(""),
) -> dict:
    """Record a delivery report. The token in the URL (kannel_dlr_token) proves it comes from our gateway."""
    _check_token(token, get_settings().kannel_dlr_token, "无权提交送达报告。")
    if type not in (DELIVERED, FAILED, REJECTED):
        return {"recorded": False, "reason": "intermediate report"}
    known = casework.record_delivery_report(
        db, id, delivered=type == DELIVERED, detail="手机未收到" if type == FAILED else "短信中心拒收"
    )
    if not known:
        raise HTTPException(404, "未知的短信编号。")
    return {"recorded": True}


@router.get("/api/sms/incoming", tags=[GATEWAY])
def incoming(
    db: SessionDep,
    sender: str = Query("", alias="from", max_length=64),
    text: str = Query("", max_length=4000),
    token: str = Query(""),
) -> Response:
    """An SMS to the hotline, from Kannel's smsbox (sms-service get-url
    `.../api/sms/incoming?from=%p&text=%a&token=...`, with mo-recode so Chinese arrives as UTF-8). The
    answer is an empty 200: Kannel would send a body back as an SMS (and, on another status, its
    "could not fetch" text unless the service has max-messages = 0); replies go through the outbox."""
    _check_token(token, get_settings().kannel_incoming_token, "无权提交短信。")
    casework.receive_sms(db, sender, text)
    return Response(content=b"", media_type="text/plain")
