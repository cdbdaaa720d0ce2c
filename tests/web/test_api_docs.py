"""Offline API documentation and the typed JSON API (issue 13, item 7): /docs and /redoc load their assets
from this site, the OpenAPI document holds the /api routes only, each with a documented output, the
staff's API apart from the public one; outputs keep their field names (both databases)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import login, make_user
from tests.web.test_public_portal import add_document
from web.apimodels import PUBLIC, STAFF_KB, DocumentRowOut

ASSET = re.compile(r'(?:src|href)="([^"]+)"')


def test_docs_pages_use_only_bundled_assets(sqlite_client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        resp = sqlite_client.get(page)
        assert resp.status_code == 200
        assert "connect-src 'self'" in resp.headers["content-security-policy"]
        urls = ASSET.findall(resp.text)
        assert urls and all(u.startswith("/apidocs-assets/") for u in urls), urls
        assert "cdn" not in resp.text and "fonts.googleapis" not in resp.text
        for url in urls:
            asset = sqlite_client.get(url)
            assert asset.status_code == 200 and len(asset.content) > 1000
    assert '"validatorUrl": null' in sqlite_client.get("/docs").text


def test_openapi_documents_every_api_output_and_separates_staff_from_public(
    sqlite_client: TestClient,
) -> None:
    schema = sqlite_client.get("/openapi.json").json()
    paths = schema["paths"]
    assert paths and all(p.startswith("/api/") for p in paths)  # no HTML pages
    tags = [t["name"] for t in schema["tags"]]
    assert tags.index(PUBLIC) < tags.index(STAFF_KB)
    for path, ops in paths.items():
        for method, op in ops.items():
            if path == "/api/sms/incoming" or not path.startswith(
                ("/api/kb", "/api/documents", "/api/search")
            ):
                continue
            ok = op["responses"].get("200") or op["responses"].get("201")
            assert ok and ok["content"]["application/json"]["schema"], (method, path)
            expected = STAFF_KB if path.startswith("/api/kb/") else PUBLIC
            assert op["tags"] == [expected], (method, path)
    public = {p for p, ops in paths.items() if any(PUBLIC in op.get("tags", []) for op in ops.values())}
    assert public == {
        "/api/search",
        "/api/suggest",
        "/api/categories",
        "/api/documents/{doc_id}",
        "/api/documents/{doc_id}/feedback",
    }
    assert all(op.get("tags") for ops in paths.values() for op in ops.values())
    for path in ("/api/search", "/api/suggest", "/api/categories", "/api/documents/{doc_id}"):
        assert paths[path]["get"]["tags"] == [PUBLIC]
    search = schema["components"]["schemas"]["SearchHitOut"]["properties"]
    assert {"id", "external_id", "title", "category", "score", "snippet", "relevance", "answered"} <= set(
        search
    )


def test_outputs_keep_their_fields(client: TestClient) -> None:
    doc_id = add_document("住房公积金提取办理指南", "职工购房可以申请提取住房公积金。", keywords=["公积金"])
    public = client.get(f"/api/documents/{doc_id}").json()
    assert public["id"] == doc_id and public["sections"] and public["status"] == "published"
    hit = client.get("/api/search", params={"q": "公积金提取"}).json()["hits"][0]
    assert set(hit) == {
        "id",
        "external_id",
        "title",
        "category",
        "department",
        "score",
        "snippet",
        "relevance",
        "answered",
    }
    make_user("ed", ["editor"])
    login(client, "ed")
    items = client.get("/api/kb/documents").json()["items"]
    assert set(items[0]) == set(DocumentRowOut.model_fields)
    assert items[0]["updated_at"].endswith("+00:00")  # moments as before: ISO 8601 with the offset
    staff = client.get(f"/api/kb/documents/{doc_id}").json()
    assert staff["working_copy"]["title"] == "住房公积金提取办理指南" and staff["publish_at"] is None
    history = client.get(f"/api/kb/documents/{doc_id}/history").json()
    assert [e["action"] for e in history][:2] == ["kb.create", "kb.submit"]
    revisions = client.get(f"/api/kb/documents/{doc_id}/revisions").json()
    assert revisions[0]["number"] == 1 and revisions[0]["actor"] == "seed-editor"
    found = client.get("/api/kb/search", params={"q": "公积金"}).json()
    assert found["hits"][0]["id"] == doc_id and "title_html" in found["hits"][0]
    assert client.get("/api/session").json()["user"]["username"] == "ed"
