"""The SMS gateway's callbacks: Kannel delivery reports (dlr-url) for messages from the outbox."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, HTTPException, Query

import casework
from hotline.config import get_settings
from web.security import SessionDep

router = APIRouter()

# Kannel DLR types: 1 delivered to the phone, 2 failed at the phone, 4 buffered, 8 accepted by the
# SMS centre, 16 rejected by the SMS centre
DELIVERED, FAILED, REJECTED = 1, 2, 16


@router.get("/api/sms/dlr")
def delivery_report(
    db: SessionDep,
    id: str = Query(..., max_length=64),
    type: int = Query(...),
    token: str = Query(""),
) -> dict:
    """Record a delivery report. The token in the URL (kannel_dlr_token) proves it comes from our gateway."""
    expected = get_settings().kannel_dlr_token
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):  # bytes: any text
        raise HTTPException(403, "无权提交送达报告。")
    if type not in (DELIVERED, FAILED, REJECTED):
        return {"recorded": False, "reason": "intermediate report"}
    known = casework.record_delivery_report(
        db, id, delivered=type == DELIVERED, detail="手机未收到" if type == FAILED else "短信中心拒收"
    )
    if not known:
        raise HTTPException(404, "未知的短信编号。")
    return {"recorded": True}
