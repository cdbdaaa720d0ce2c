"""Citizen pages: online submission into the review queue, progress query by case number + password."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

import casework
from hotline.db import session_scope


def token(client: TestClient) -> str:
    return client.get("/api/session").json()["csrf_token"]


def submission(**overrides: str) -> dict[str, str]:
    data = {
        "name": "张三",
        "phone": "13812345678",
        "category": "投诉",
        "topic": "小区噪音扰民",
        "content": "幸福小区南门夜间施工噪音很大，影响休息，请有关部门处理。",
        "district": "芙蓉区",
        "address": "幸福小区南门",
    }
    data.update(overrides)
    return data


def test_submit_creates_case_in_review_queue_and_shows_password_once(client: TestClient) -> None:
    page = client.get("/submit")
    assert page.status_code == 200 and "我要留言" in page.text
    resp = client.post("/submit", data={**submission(), "csrf_token": token(client)})
    assert resp.status_code == 200, resp.text
    assert resp.headers["cache-control"] == "no-store"
    number = re.search(r'id="case-number">(\d+)<', resp.text).group(1)
    password = re.search(r'id="case-password">(\d{4,6})<', resp.text).group(1)
    with session_scope() as db:
        case = casework.get_case(db, number)
        assert case.channel == "web" and case.caller_number == "13812345678"
        assert case in casework.review_queue(db)
        assert password not in str(case.password_hash)
    # the password is not shown again anywhere
    assert password not in client.get("/progress").text


def test_submit_validation_errors_are_chinese_and_keep_the_input(sqlite_client: TestClient) -> None:
    data = submission(phone="12345", content="<script>alert(1)</script>夜间施工")
    resp = sqlite_client.post("/submit", data={**data, "csrf_token": token(sqlite_client)})
    assert resp.status_code == 422
    assert "联系电话格式不正确" in resp.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;夜间施工" in resp.text
    assert "<script>alert(1)" not in resp.text
    assert 'value="小区噪音扰民"' in resp.text
    empty = sqlite_client.post("/submit", data={"csrf_token": token(sqlite_client), "category": "咨询"})
    assert empty.status_code == 422 and "请填写诉求内容" in empty.text and "请填写联系电话" in empty.text
    with session_scope() as db:
        assert casework.review_queue(db) == []


def test_submit_without_csrf_token_is_refused(sqlite_client: TestClient) -> None:
    resp = sqlite_client.post("/submit", data=submission())
    assert resp.status_code == 403
    with session_scope() as db:
        assert casework.review_queue(db) == []


def test_progress_shows_status_for_correct_number_and_password(client: TestClient) -> None:
    with session_scope() as db:
        case, password = casework.create_case(
            db, channel="phone", caller_number="13900001111", content="咨询公积金提取需要哪些材料。"
        )
        number = case.case_number
    resp = client.post(
        "/progress", data={"case_number": number, "password": password, "csrf_token": token(client)}
    )
    assert resp.status_code == 200
    assert number in resp.text and "当前状态" in resp.text
    assert "13900001111" not in resp.text


def test_progress_gives_no_hint_which_part_was_wrong_and_locks(sqlite_client: TestClient) -> None:
    with session_scope() as db:
        case, password = casework.create_case(
            db, channel="phone", caller_number="13900002222", content="咨询社保卡补办流程。"
        )
        number = case.case_number
    wrong_password = "0000" if password != "0000" else "1111"
    t = token(sqlite_client)
    bad_pw = sqlite_client.post(
        "/progress", data={"case_number": number, "password": wrong_password, "csrf_token": t}
    )
    bad_no = sqlite_client.post(
        "/progress", data={"case_number": "99999999999", "password": password, "csrf_token": t}
    )
    assert bad_pw.status_code == bad_no.status_code == 404
    message = "工单编号或查询密码不正确"
    assert message in bad_pw.text and message in bad_no.text
    statuses = [
        sqlite_client.post(
            "/progress", data={"case_number": number, "password": wrong_password, "csrf_token": t}
        ).status_code
        for _ in range(5)
    ]
    assert statuses[-1] == 429
    locked = sqlite_client.post(
        "/progress", data={"case_number": number, "password": password, "csrf_token": t}
    )
    assert locked.status_code == 429 and "查询失败次数过多" in locked.text


def test_progress_rejects_malformed_input_in_chinese(sqlite_client: TestClient) -> None:
    resp = sqlite_client.post(
        "/progress", data={"case_number": "abc", "password": "12", "csrf_token": token(sqlite_client)}
    )
    assert resp.status_code == 422 and "请输入正确格式的工单编号" in resp.text
    assert 'value="abc"' in resp.text
