"""批示 by leaders: a leader writes one on a case (it was refused with 403), the department sees it,
acknowledges it and reports how it is carried out; everyone sees it on the case."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

import casework
from hotline.db import session_scope
from hotline.models import AuditEntry
from tests.conftest import login, make_user


def referred_case() -> tuple[str, str]:
    with session_scope() as db:
        case, _ = casework.create_case(
            db,
            channel="phone",
            caller_number="13812345678",
            category="投诉",
            content="幸福小区夜间施工噪音扰民。",
        )
        dept = db.scalars(select(casework.Department).order_by(casework.Department.id)).first()
        dept.sms_number = "13900000001"  # the department's number for notices
        casework.refer(db, case, dept, actor="agent1", note="")
        return case.case_number, dept.name


def test_a_leader_writes_an_instruction_the_department_acknowledges_and_reports(client: TestClient) -> None:
    number, dept_name = referred_case()
    make_user("boss", ["leader"], display_name="王市长")
    t = login(client, "boss")
    page = client.get(f"/supervisor/cases/{number}")
    assert "领导批示" in page.text and f"/cases/{number}/supervise" in page.text and "/urge" not in page.text
    done = client.post(
        f"/supervisor/cases/{number}/supervise",
        data={"instruction": "请本周内<b>彻底</b>解决并回复市民", "csrf_token": t},
    )
    assert done.status_code == 200 and "批示已送达承办部门" in done.text
    assert "请本周内&lt;b&gt;彻底&lt;/b&gt;解决并回复市民" in done.text and "待承办单位确认" in done.text
    assert (
        client.post(f"/supervisor/cases/{number}/urge", data={"csrf_token": t}).status_code == 403
    )  # 催办 stays
    with session_scope() as db:
        case = casework.get_case(db, number)
        assert case.supervised and case.instructions[0].issued_by == "boss"
        instruction_id = case.instructions[0].id
        sms = db.scalars(
            select(casework.OutboxMessage).where(casework.OutboxMessage.kind == "instruction")
        ).all()
        assert len(sms) == 1  # the department is told
    # the department acknowledges, then reports how it carries it out
    make_user("dep1", ["department"], department=dept_name)
    t = login(client, "dep1")
    assert "待确认的督办批示" in client.get("/department").text
    case_page = client.get(f"/department/cases/{number}")
    assert "请本周内" in case_page.text and "boss 批示于" in case_page.text
    early = client.post(
        f"/department/cases/{number}/instruction-report",
        data={"instruction_id": instruction_id, "text": "已处理", "csrf_token": t},
    )
    assert "请先确认该批示" in early.text
    client.post(
        f"/department/cases/{number}/acknowledge",
        data={"instruction_id": instruction_id, "comment": "已安排专人处理", "csrf_token": t},
    )
    empty = client.post(
        f"/department/cases/{number}/instruction-report",
        data={"instruction_id": instruction_id, "text": "  ", "csrf_token": t},
    )
    assert "请填写落实情况" in empty.text
    reported = client.post(
        f"/department/cases/{number}/instruction-report",
        data={
            "instruction_id": instruction_id,
            "text": "施工单位已停止夜间施工，已电话回复市民。",
            "csrf_token": t,
        },
    )
    assert "批示落实情况已反馈" in reported.text and "批示落实情况" in reported.text  # timeline label
    # the leader sees the acknowledgement and the report on the case
    login(client, "boss")
    seen = client.get(f"/supervisor/cases/{number}").text
    assert "已确认" in seen and "dep1 确认于" in seen and "落实情况：施工单位已停止夜间施工" in seen
    with session_scope() as db:
        actions = [e.action for e in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
    assert {"case.supervised", "case.instruction_acknowledged", "case.instruction_reported"} <= set(actions)


def test_other_roles_cannot_write_instructions_and_final_cases_take_none(sqlite_client: TestClient) -> None:
    number, dept_name = referred_case()
    for username, roles in (("ag", ["agent"]), ("dep", ["department"])):
        make_user(username, roles, department=dept_name if "department" in roles else None)
        t = login(sqlite_client, username)
        refused = sqlite_client.post(
            f"/supervisor/cases/{number}/supervise", data={"instruction": "批示", "csrf_token": t}
        )
        assert refused.status_code == 403
    make_user("boss", ["leader"])
    t = login(sqlite_client, "boss")
    empty = sqlite_client.post(
        f"/supervisor/cases/{number}/supervise", data={"instruction": " ", "csrf_token": t}
    )
    assert "请填写批示内容" in empty.text
    with session_scope() as db:
        case = casework.get_case(db, number)
        case.status = "closed"
    page = sqlite_client.get(f"/supervisor/cases/{number}")
    assert f"/cases/{number}/supervise" not in page.text and "当前无可办理的督办操作" in page.text
    closed = sqlite_client.post(
        f"/supervisor/cases/{number}/supervise", data={"instruction": "请落实", "csrf_token": t}
    )
    assert "不能督办" in closed.text


def test_the_days_instructions_are_in_the_daily_brief(sqlite_client: TestClient, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import subprocess

    number, _ = referred_case()
    make_user("boss", ["leader"])
    t = login(sqlite_client, "boss")
    sqlite_client.post(
        f"/supervisor/cases/{number}/supervise", data={"instruction": "请限期整改噪音问题", "csrf_token": t}
    )
    view = sqlite_client.get("/supervisor/brief/view").text
    assert "八、领导批示" in view and "请限期整改噪音问题" in view and number in view and "待确认" in view
    pdf = sqlite_client.get("/supervisor/brief.pdf")
    assert pdf.status_code == 200
    if shutil.which("pdftotext"):
        (tmp_path / "brief.pdf").write_bytes(pdf.content)
        text = subprocess.run(
            ["pdftotext", str(tmp_path / "brief.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout
        assert "领导批示" in text and "请限期整改噪音问题" in text
