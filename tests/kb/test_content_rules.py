"""The content rules of the bundled knowledge base (issue 13 item 5) on real rows of the shared data:
news / policy / notice filing, the COVID-era expiry, traditional characters and typos, the masking of
citizens' messages (names, ids, phones, plates, addresses below the building) and the 典型案例 built
from them."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from hotline.config import REPO_ROOT
from hotline.masking import mask_personal_text
from kb.content import NEWS, NOTICE, POLICY, classify, covid_expiry, normalise, to_simplified

SHARED = Path("/work/shared/data")
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="raw shared data not on this machine")


def build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("build_kb_data", REPO_ROOT / "scripts" / "build_kb_data.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def policies() -> dict[str, dict]:
    if not SHARED.is_dir():
        pytest.skip("raw shared data not on this machine")
    return {row["title"]: row for row in build_script().build_policies(SHARED)}


@pytest.fixture(scope="module")
def message_rows() -> dict[int, tuple]:
    if not SHARED.is_dir():
        pytest.skip("raw shared data not on this machine")
    import openpyxl

    wb = openpyxl.load_workbook(SHARED / "tipdm2020c_gov_messages" / "附件4.xlsx", read_only=True)
    return {int(r[0]): r for r in list(wb.worksheets[0].iter_rows(values_only=True))[1:] if r[0]}


@pytest.mark.parametrize(
    ("title", "category"),
    [
        ("郑州市市长王新伟主持召开市政府第47次常务会议", NEWS),  # a meeting
        ("广西出台多项政策支持企业复工复产", NEWS),  # 新华社南宁2月18日电（记者 …）
        ("浙江：全省各地“健康码”陆续上线", NEWS),  # a headline
        (
            "财政部 税务总局关于支持新型冠状病毒感染的肺炎疫情防控有关税收政策的公告",
            POLICY,
        ),  # 公告2020年第8号
        ("国家卫生健康委办公厅关于进一步加强县域新型冠状病毒感染的肺炎医疗救治工作的通知", POLICY),  # 文号
        ("市政府关于应对新冠肺炎疫情支持台资企业健康发展的若干意见", POLICY),  # names an instrument
        ("门头沟区信访办公室关于暂停接待群众来访的通知", NOTICE),
        ("关于疫情防控期间开通公交608路的通告", NOTICE),
        ("致东城区房地产经纪机构和住房租赁企业的一封信", NOTICE),
    ],
)
def test_real_policy_documents_are_filed_by_the_rules(
    policies: dict[str, dict], title: str, category: str
) -> None:
    row = policies[title]
    assert row["category"] == category
    assert classify(row["title"], row["body"]).category == category


def test_the_collection_splits_into_news_policies_and_notices(policies: dict[str, dict]) -> None:
    counts = Counter(r["category"] for r in policies.values())
    assert set(counts) == {NEWS, POLICY, NOTICE}
    assert counts[NEWS] > 250 and counts[POLICY] > 120 and counts[NOTICE] > 40, counts
    # the old rule filed every news report as 政策法规
    assert not any(r["category"] == POLICY and "新华社" in r["body"][:120] for r in policies.values())


def test_covid_era_notices_are_flagged_and_the_bundle_expires_nothing(policies: dict[str, dict]) -> None:
    """The rule flags notices that name the epidemic (a reviewer applies it on the corpus page); the
    bundled rows carry no validity, so a fresh install hides nothing."""
    notice = policies["关于疫情防控期间开通公交608路的通告"]
    assert covid_expiry(notice["category"], notice["title"], notice["body"]) == date(2023, 1, 7)
    # a notice whose text names no epidemic is not guessed at
    quiet = policies["门头沟区信访办公室关于暂停接待群众来访的通知"]
    assert covid_expiry(quiet["category"], quiet["title"], quiet["body"]) is None
    flagged = [r for r in policies.values() if covid_expiry(r["category"], r["title"], r["body"])]
    assert len(flagged) > 40 and all(r["category"] == NOTICE for r in flagged)
    assert all(r["valid_until"] is None for r in policies.values())
    assert covid_expiry(NOTICE, "春节假期服务安排公告", "春节期间窗口暂停。") is None  # no COVID word
    assert covid_expiry(POLICY, "关于疫情防控期间的若干措施", "") is None


def test_signing_dates_become_publication_dates(policies: dict[str, dict]) -> None:
    dated = [r for r in policies.values() if r["published_at"]]
    assert dated and all(r["published_at"].startswith("20") for r in dated)
    assert build_script().signing_date("……特此通知。\n某某市人民政府 2020年2月7日") == "2020-02-07"
    assert build_script().signing_date("2020年2月30日") is None


def test_traditional_characters_and_known_typos_are_fixed_but_nothing_else() -> None:
    assert to_simplified("节後返沪，其馀人员") == "节后返沪，其余人员"
    assert to_simplified("依托建设智慧型城市") == "依托建设智慧型城市"  # no regional word (zh-cn: 智能)
    assert normalise("坚决打嬴疫情防控狙击战") == "坚决打赢疫情防控阻击战"
    assert normalise("纳税人可登陆电子税务局办理") == "纳税人可登录电子税务局办理"
    assert normalise("截止目前，保障应急物质运输") == "截至目前，保障应急物资运输"
    assert normalise("以营利为目的的组织；必须线下办理的的业务") == "以营利为目的的组织；必须线下办理的业务"
    assert normalise("台风登陆沿海") == "台风登陆沿海"  # landing, not logging in
    assert normalise("打嬴", typos=False) == "打嬴"


@needs_shared
def test_built_texts_carry_no_traditional_characters_or_known_typos(policies: dict[str, dict]) -> None:
    text = "".join(r["title"] + r["body"] for r in policies.values())
    assert "後" not in text and "馀" not in text
    assert "打嬴" not in text and "狙击战" not in text and "截止目前" not in text


def test_masking_real_messages(message_rows: dict[int, tuple]) -> None:
    reply = mask_personal_text(message_rows[23001][5])
    # officials named in the reply (成小平 the deputy, 成桂宁 the office head), the user id, the phone
    assert "成小平" not in reply and "成桂宁" not in reply and "成某" in reply
    assert "UU0081176" not in reply and "网友" in reply
    assert "夏多铺镇" in reply  # places stay
    message = mask_personal_text(message_rows[23001][4])
    assert "香山冲村" in message
    # a building, a room and a user id in one complaint
    text = mask_personal_text("我住在金霞苑13栋一单元602房，网友“UU0081440”，车牌湘A12345，电话13812345678")
    assert "金霞苑" in text and "13栋" not in text and "602房" not in text
    assert "UU0081440" not in text and "湘A12345" not in text and "13812345678" not in text
    assert mask_personal_text("身份证号430102199001011234") == "身份证号430102************"
    assert mask_personal_text("共支出3847330元") == "共支出3847330元"  # amounts are no personal data
    assert mask_personal_text("胡华衡书记您好") == "胡某书记您好"
    assert mask_personal_text("我，名叫曹珍贵，女，86岁") == "我，名叫曹某，女，86岁"
    assert mask_personal_text("本人家住金霞苑") == "本人家住金霞苑"
    assert mask_personal_text("请党委书记和常务副县长过问") == "请党委书记和常务副县长过问"


def test_masking_leaves_no_known_name_in_the_built_cases() -> None:
    """On the committed cases.jsonl (tests/kb/test_bundled_corpus.py checks that the script rebuilds it
    byte for byte)."""
    path = REPO_ROOT / "data" / "kb" / "cases.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(cases) == 300
    assert len({c["external_id"] for c in cases}) == 300 and all(
        re.fullmatch(r"case-\d+", c["external_id"]) for c in cases
    )
    for case in cases:
        assert case["category"] == "典型案例"
        body = case["body"]
        assert body.startswith("## 群众留言\n\n") and "\n\n## 答复意见\n\n" in body
        reply = body.split("## 答复意见\n\n", 1)[1]
        assert len(reply) >= 120 and "请您耐心等待" not in reply  # >= 150 before masking shortened it
        assert not re.search(r"UU\d{5}|A\d{7}|1[3-9]\d{9}|\d{17}[\dXx]", body + case["title"])
        assert date.fromisoformat(case["published_at"]).year >= 2011
    text = json.dumps(cases, ensure_ascii=False)
    for name in ("卢理映", "姚桃先", "李柏思", "杨彪虎", "殷义新", "成小平", "胡华衡", "曹珍贵"):
        assert name not in text
