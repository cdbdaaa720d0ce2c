"""Request bodies: over the route's limit (1 MB by default) refused before anything parses them, also
when sent in chunks without a length; validation errors never echo the input."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from web.security import MAX_BODY_BYTES

BIG = "x" * (MAX_BODY_BYTES + 1)


def test_a_body_over_the_limit_is_refused_before_parsing(client: TestClient) -> None:
    resp = client.post("/login", data={"username": "a", "password": BIG, "csrf_token": "t"})
    assert resp.status_code == 413 and "请求内容过大" in resp.text


def test_a_chunked_body_over_the_limit_is_cut_off(sqlite_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"username=a&password="
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    resp = sqlite_client.post(
        "/login", content=chunks(), headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert resp.status_code == 413 and "请求内容过大" in resp.text


def test_a_body_within_the_limit_still_works(sqlite_client: TestClient) -> None:
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    form = {"username": "nobody", "password": "x" * 1000, "csrf_token": token}
    assert sqlite_client.post("/login", data=form).status_code == 401


def test_validation_errors_do_not_echo_the_input(sqlite_client: TestClient) -> None:
    marker = "<script>alert(1)</script>" * 1000
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    resp = sqlite_client.post(
        "/api/documents/1/feedback", json={"helpful": marker}, headers={"X-CSRF-Token": token}
    )
    assert resp.status_code == 422
    assert "alert" not in resp.text and resp.json()["errors"][0]["loc"] == ["body", "helpful"]


def test_csrf_is_refused_before_the_form_is_read(sqlite_client: TestClient) -> None:
    """No session token, or another site's page: 403 without parsing the body; any token text is
    compared without a 500 (csrf_token=中文)."""
    fresh = sqlite_client.post("/submit", data={"content": "x"})  # a first visit: no session yet
    assert fresh.status_code == 403
    token = sqlite_client.get("/api/session").json()["csrf_token"]
    cross = sqlite_client.post(
        "/submit", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    chinese = sqlite_client.post("/login", data={"username": "a", "password": "b", "csrf_token": "中文"})
    assert chinese.status_code == 403
    same_site = sqlite_client.post(
        "/login",
        data={"username": "a", "password": "b", "csrf_token": token},
        headers={"Origin": "http://testserver"},
    )
    assert same_site.status_code == 401
