"""/docs (Swagger UI) and /redoc render in headless Chromium with every request going to the portal itself:
requests elsewhere are recorded and refused, as on a machine without internet."""

from __future__ import annotations

from urllib.parse import urlsplit


def _offline(page, base_url: str) -> list[str]:  # type: ignore[no-untyped-def]
    """Refuse (and record) every request that does not go to the live server."""
    own = urlsplit(base_url).netloc
    outside: list[str] = []

    def route(r) -> None:  # type: ignore[no-untyped-def]
        url = r.request.url
        if urlsplit(url).netloc == own or url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            outside.append(url)
            r.abort()

    page.route("**/*", route)
    return outside


def test_swagger_ui_renders_offline_with_public_and_staff_sections(page, live_server) -> None:  # type: ignore[no-untyped-def]
    outside = _offline(page, live_server.url)
    page.goto("/docs")
    page.wait_for_selector(".swagger-ui .opblock-tag")
    tags = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
    assert any("公开接口" in t for t in tags) and any("工作人员接口" in t for t in tags)
    assert page.locator(".opblock-summary-path", has_text="/api/search").count() >= 1
    page.locator(".opblock-summary-path", has_text="/api/search").first.click()
    page.wait_for_selector(".responses-wrapper")
    assert "answered" in page.locator(".responses-wrapper").first.inner_text()  # the output is documented
    assert outside == []


def test_redoc_renders_offline(page, live_server) -> None:  # type: ignore[no-untyped-def]
    outside = _offline(page, live_server.url)
    page.goto("/redoc")
    page.get_by_text("公开接口：知识库").first.wait_for()
    assert page.get_by_text("工作人员接口：知识库编辑").first.is_visible()
    assert outside == []
