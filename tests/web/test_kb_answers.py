"""The public portal's honest answers and page defects over HTTP: "没有找到直接回答" with the nearest
items, 留言 with the question carried over, did-you-mean, FAQ and Markdown rendering, paging past the
end, bad document ids, an empty category; the CLI's "answered"."""

from __future__ import annotations

import json
import re
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

import kb
from hotline.cli import app
from hotline.db import session_scope
from tests.web.test_public_portal import GJJ_BODY, add_document, result_ids

NONSENSE = "xyzzy很奇怪的问题qqq"


def nearest_ids(html: str) -> list[int]:
    block = html.split('class="kb-results kb-nearest"', 1)[1].split("</ol>", 1)[0]
    return [int(i) for i in re.findall(r'href="/documents/(\d+)[?"]', block)]


def test_a_question_without_answer_says_so_shows_the_nearest_and_offers_a_message(
    client: TestClient,
) -> None:
    gjj = add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    add_document("问题反映渠道说明", "群众遇到问题，可以拨打12345反映。")
    html = client.get("/search", params={"q": NONSENSE}).text
    assert "没有找到直接回答" in html and "仅供参考" in html
    assert nearest_ids(html)  # the nearest items, marked as such, not presented as results
    assert "/submit?content=xyzzy" in html.replace("&amp;", "&")
    with session_scope() as session:
        assert [g for g in kb.list_gaps(session) if g.query == NONSENSE]  # logged as a gap
    answered = client.get("/search", params={"q": "公积金提取"}).text
    assert "没有找到直接回答" not in answered and result_ids(answered)[0] == gjj
    api = client.get("/api/search", params={"q": NONSENSE}).json()
    assert api["hits"] and not any(h["answered"] for h in api["hits"])
    assert client.get("/api/search", params={"q": "公积金提取"}).json()["hits"][0]["answered"] is True


def test_the_message_form_carries_the_question_over(sqlite_client: TestClient) -> None:
    html = sqlite_client.get("/submit", params={"content": "身份证丢了怎么补办"}).text
    assert re.search(r"<textarea[^>]*>\s*身份证丢了怎么补办\s*</textarea>", html)


def test_pinyin_search_and_suggestions(sqlite_client: TestClient) -> None:
    gjj = add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    add_document("社会保障卡补办流程", "社会保障卡丢失后，可到任一社保经办网点补办，需携带身份证。")
    for q in ("gongjijin", "gjj", "gong'ji'jin", "gong ji jin", "gong积金"):
        assert result_ids(sqlite_client.get("/search", params={"q": q}).text)[:1] == [gjj], q
    assert "住房公积金提取办理指南" in sqlite_client.get("/search/suggest", params={"q": "gjj"}).text
    assert "住房公积金提取办理指南" in sqlite_client.get("/api/suggest", params={"q": "gongjijin"}).json()


def test_did_you_mean_only_when_it_helps(sqlite_client: TestClient) -> None:
    add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    add_document("失业保险金申领指南", "失业人员可在线申领失业保险金，需办理失业登记。", keywords=["失业保险金"])
    add_document("医保异地就医备案办理", "参保人员异地就医前，应办理医保异地就医备案。", keywords=["异地就医"])
    for q in ("失业保险金怎么申领", "医保异地就医备案"):
        assert "您是不是要找" not in sqlite_client.get("/search", params={"q": q}).text, q
    typo = sqlite_client.get("/search", params={"q": "公基金提取"}).text
    link = re.search(r'您是不是要找：<a href="([^"]+)">([^<]+)</a>', typo)
    assert link and link.group(2) == "公积金提取"
    followed = sqlite_client.get(link.group(1).replace("&amp;", "&")).text
    assert "您是不是要找" not in followed  # the suggestion does not suggest the original back


def test_faq_answer_once_markdown_links_and_plain_snippets(sqlite_client: TestClient) -> None:
    answer = "出生后90天内可在线办理，详见[市医保局网站](https://ybj.example.gov.cn)。"
    faq = add_document(
        "新生儿医保怎么办理",
        answer,
        category="常见问题",
        question="新生儿医保怎么办理？",
        answer=answer,
    )
    page = sqlite_client.get(f"/documents/{faq}").text
    assert page.count("出生后90天内可在线办理") == 1  # the answer once, though the body repeats it
    assert '<a href="https://ybj.example.gov.cn">市医保局网站</a>' in page
    add_document("居住证办理指南", "# 办理条件\n- 在本市居住半年以上\n- 见[**居住证**网站](https://x.example.cn)")
    html = sqlite_client.get("/search", params={"q": "居住证办理"}).text
    snippet = re.search(r'<p class="snippet">(.*?)</p>', html, re.S)
    assert snippet is not None
    plain = snippet.group(1).replace("<mark>", "").replace("</mark>", "")
    assert "#" not in plain and "](" not in plain and "**" not in plain and "居住证网站" in plain
    faq_snippet = sqlite_client.get("/search", params={"q": "新生儿医保"}).text
    assert faq_snippet.count("90天内可在线办理") == 1


def test_paging_past_the_end_shows_the_last_page(sqlite_client: TestClient) -> None:
    for n in range(11):
        add_document(f"公积金提取指南第{n}号", f"第{n}号：职工可以申请提取住房公积金。")
    html = sqlite_client.get("/search", params={"q": "公积金提取", "page": 999}).text
    assert "第 2/2 页" in html and "第 100/" not in html
    assert len(result_ids(html)) == 1


def test_bad_document_ids_are_404(sqlite_client: TestClient) -> None:
    for path in ("/documents/abc", "/documents/1x", "/api/documents/abc"):
        resp = sqlite_client.get(path)
        assert resp.status_code == 404, path
    assert "您访问的页面不存在" in sqlite_client.get("/documents/abc").text


def test_an_empty_category_says_so(sqlite_client: TestClient) -> None:
    html = sqlite_client.get("/search", params={"category": "典型案例"}).text
    assert "本分类暂无信息" in html and 'href="/submit"' in html


def test_cli_hits_say_whether_they_answer(sqlite_env: Path, tmp_path: Path) -> None:
    add_document("住房公积金提取办理指南", GJJ_BODY, keywords=["公积金", "提取"])
    add_document("问题反映渠道说明", "群众遇到问题，可以拨打12345反映。")
    queries = tmp_path / "q.txt"
    queries.write_text(f"公积金提取\n{NONSENSE}\n火星移民\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["kb", "search", "--batch", str(queries), "--json"])
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert len(lines) == 3
    assert lines[0][0]["answered"] is True and lines[0][0]["title"] == "住房公积金提取办理指南"
    assert lines[1] and not any(h["answered"] for h in lines[1])
    assert lines[2] == []
    human = CliRunner().invoke(app, ["kb", "search", NONSENSE])
    assert "没有找到直接回答" in human.stdout
