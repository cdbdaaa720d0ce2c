"""Rules that fit the bundled knowledge base to a 12345 centre (docs/kb.md "Bundled content").

One definition of each rule, used at build time by scripts/build_kb_data.py and on an existing
install by `hotline kb recategorise` (kb.corpus.recategorise):
- `classify`: the policy collection (external ids "ncp-") filed as 新闻动态 (news reports), 政策法规 (policy
  documents) or 通知公告 (notices), by what the title and the opening of the text show.
- `covid_expiry`: a COVID-era notice of 2020 is valid until 2023-01-07 (from 2023-01-08 COVID-19 was
  managed as a class B disease, 国家卫生健康委公告2022年第7号: the emergency arrangements ended).
- `normalise`: traditional characters to simplified (zhconv, zh-hans: characters only, no regional
  words) and the known typos of the source texts (`TYPOS`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date

import zhconv

POLICY, NOTICE, NEWS = "政策法规", "通知公告", "新闻动态"
RULED_PREFIX = "ncp-"  # the bundled policy collection: the documents these rules file
COVID_NOTICES_VALID_UNTIL = date(2023, 1, 7)

# A news report: a dateline or byline near the start of the text ...
NEWS_BYLINE = re.compile(
    r"新华社\S{0,8}?\d{1,2}月\d{1,2}日电|[（(]\s*记者|记者\S{0,12}?(?:从|获悉|了解到)|日报讯|[网社台报]讯"
    r"|中证网|原标题|本报\S{0,6}电|新闻发布会上|发布会上获悉"
)
# ... or a title that reports an event (a meeting, a visit, an inspection) or reads as a headline
NEWS_TITLE = re.compile(
    r"召开|会议|走访|慰问|调研|督导|检查指导|视察|座谈|新闻发布|发布会|^【|^[^\s：:]{2,8}[：:](?!关于)|[！!？?]|……"
    r"|一图读懂|纪实|驰援|战“?疫|抗疫|记者"
)
# A policy document: a document number (文号) of its own - not one cited as 《…》（…〔2020〕1号） - ...
DOC_NUMBER = re.compile(r"(?<=[\u4e00-\u9fa5])[〔\[﹝【]20\d\d[〕\]﹞】]\d+号|公告20\d\d年第\d+号")
CITED = re.compile(r"》[（(][\u4e00-\u9fa5]{0,14}$")
# ... or a title naming (or issuing) a policy instrument
POLICY_TITLE = re.compile(
    r"办法|规定|条例|意见|措施|细则|方案|政策|决定|规划|指引|指南|标准|解读|若干|印发|实施"
)
# A notice: the title names one
NOTICE_TITLE = re.compile(r"通知|通告|公告|公示|告知|倡议|提示|公开信|一封信|须知|声明|启事|通报|说明")
# An official document's salutation ("各区县人民政府：") opening a text whose title says nothing
SALUTATION = re.compile(r"^[^。！？]{0,80}?(?:各|有关)[^。！？]{1,60}[：:]")
COVID_WORDS = re.compile(r"疫情|新冠|新型冠状|冠状病毒|肺炎|防疫|抗疫|战“?疫|防控期间")

# Known typos of the source texts (the policy collection and its FAQ; law texts are quoted as published):
# (pattern, replacement). Found by searching the texts for common misspellings; every hit was checked.
TYPOS: tuple[tuple[str, str], ...] = (
    (r"打嬴", "打赢"),
    (r"狙击战", "阻击战"),
    (r"登陆(?=[^，。；]{0,20}?(?:平台|系统|网站|官网|税务局|软件|账号|APP|app|大厅|网|并|或))", "登录"),
    (r"截止(?:到)?目前", "截至目前"),
    (r"帐号", "账号"),
    (r"精减(?=证明|材料|环节)", "精简"),
    (r"(应急|防疫|防控)物质", r"\1物资"),
    (r"(?<![目])的的(?!确)", "的"),
)
_TYPOS = tuple((re.compile(pattern), repl) for pattern, repl in TYPOS)


def to_simplified(text: str) -> str:
    """Traditional characters (後, 馀, 雲) as simplified; characters only (zh-hans), so no word is
    replaced by a mainland term (zh-cn would turn 智慧型 into 智能)."""
    return zhconv.convert(text, "zh-hans")


def fix_typos(text: str) -> str:
    for pattern, repl in _TYPOS:
        text = pattern.sub(repl, text)
    return text


def normalise(text: str, *, typos: bool = True) -> str:
    return fix_typos(to_simplified(text)) if typos else to_simplified(text)


@dataclass(frozen=True)
class Filing:
    category: str
    rule: str  # which rule decided, shown in the build script's table and the audit detail


def _opening(title: str, body: str) -> str:
    """The first 300 characters of the text after its title (bodies repeat the title first)."""
    text = body.strip()
    head = title.split("（")[0].split(" ")[0]
    if head and text.startswith(head):
        text = text[len(head) :]
    return text[:300]


def own_doc_number(text: str) -> bool:
    """Whether the text carries a document number that is not a citation of another document."""
    return any(not CITED.search(text[max(0, m.start() - 16) : m.start()]) for m in DOC_NUMBER.finditer(text))


def classify(title: str, body: str) -> Filing:
    """新闻动态, 政策法规 or 通知公告 for a document of the policy collection (first rule that fits):
    1. a news dateline/byline in the opening (新华社…电, （记者, 日报讯, 新闻发布会上) -> 新闻动态
    2. a document number of its own in the title or opening -> 政策法规
    3. a title that reports (召开/会议/调研/慰问/走访/督导…, "浙江：…", ！？, 【…】) and names no notice -> 新闻动态
    4. a title naming a policy instrument (办法/规定/意见/措施/细则/方案/政策/指引/解读/印发…) -> 政策法规
    5. a title naming a notice (通知/通告/公告/公示/告知/倡议/提示/公开信…) -> 通知公告
    6. an opening addressed like an official document ("各区县人民政府：") -> 政策法规
    7. otherwise a report -> 新闻动态"""
    opening = _opening(title, body)
    if NEWS_BYLINE.search(opening):
        return Filing(NEWS, "新闻电头")
    if own_doc_number(title) or own_doc_number(opening[:150]):
        return Filing(POLICY, "文号")
    if NEWS_TITLE.search(title) and not NOTICE_TITLE.search(title):
        return Filing(NEWS, "新闻标题")
    if POLICY_TITLE.search(title):
        return Filing(POLICY, "政策标题")
    if NOTICE_TITLE.search(title):
        return Filing(NOTICE, "通知标题")
    if SALUTATION.search(opening):
        return Filing(POLICY, "公文抬头")
    return Filing(NEWS, "其余报道")


def covid_expiry(category: str, title: str, body: str) -> date | None:
    """valid_until for a COVID-era notice (2020): its arrangements ended with the emergency rules."""
    if category == NOTICE and COVID_WORDS.search(title + body):
        return COVID_NOTICES_VALID_UNTIL
    return None


def is_ruled(external_id: str) -> bool:
    return external_id.startswith(RULED_PREFIX)


def count_table(before: Counter[str], after: Counter[str]) -> str:
    """A plain-text table of document counts per category, before and after."""
    names = sorted(set(before) | set(after), key=lambda c: (-after.get(c, 0), c))
    lines = [f"{'分类':<8}{'之前':>8}{'之后':>8}"]
    lines += [f"{name:<8}{before.get(name, 0):>8}{after.get(name, 0):>8}" for name in names]
    lines.append(f"{'合计':<8}{sum(before.values()):>8}{sum(after.values()):>8}")
    return "\n".join(lines)
