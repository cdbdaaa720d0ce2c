#!/usr/bin/env python3
"""Build the bundled knowledge base (data/kb/*.jsonl) from the shared raw data.

Usage: python scripts/build_kb_data.py [--source /work/shared/data] [--out data/kb]

Outputs (JSON Lines in the format of docs/architecture.md / DESIGN.md):
- ncp_policies.jsonl  the 599 policy documents of ncp_policy_qa (external_id "ncp-<docid>")
- ncp_faq.jsonl       the FAQ pairs of ncp_policy_qa (category 常见问题, external_id "faq-<id>")
- laws.jsonl          a hotline-relevant subset of currently valid laws/regulations (lawrefbook_laws),
                      one entry per article: "法律名 第X条", external_id "law-<slug>-<article no>"
- guides.jsonl        hand-written 办事指南 entries with the GB/T 33358 sections as Markdown headings
- cases.jsonl         典型案例: real citizen messages with the official reply (tipdm2020c 附件4), personal
                      data masked (hotline.masking.mask_personal_text), external_id "case-<留言编号>"

Rules (documented, deterministic):
- Policy title: the document's own heading = its first whitespace-separated segment; while it is shorter
  than 12 characters or its last segment is an issuing body (such as "财政部"), the next segment is appended,
  each cut at its first sentence mark (so: issuing bodies + the heading or first sentence). Cut to 128 characters. A duplicate title gets "（<docid first 6>）".
- Policy category: kb.content.classify (新闻动态 / 政策法规 / 通知公告 by datelines, document numbers and
  what the title names; docs/kb.md); the script prints the counts before (the old rule: 通知公告 when the
  title names a notice, else 政策法规) and after. No document is given a validity: the COVID-era notices
  (kb.content.covid_expiry) are flagged on the editors' corpus page, where a reviewer applies the rule and
  retires them (docs/kb.md); published_at is the signing date at the end of the text, when there is one.
- Text: traditional characters converted (zhconv, zh-hans) everywhere; the known typos of
  kb.content.TYPOS fixed in the policy collection and its FAQ (law texts stay as published).
- Policy department: the title's leading issuing body (text before "关于", or the first segment) when it
  ends with an organisation suffix (部/厅/局/委/政府/办公室/中心/指挥部/...); else an organisation name
  opening a news-style title ("国家邮政局启动…" -> 国家邮政局).
- FAQ: title = question (cut to 128), body = answer; exact duplicate questions keep the first pair.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path

import cn2an
import openpyxl
from pypinyin import lazy_pinyin

from hotline.masking import mask_personal_text
from kb.content import classify, count_table, normalise, to_simplified

ROOT = Path(__file__).resolve().parent.parent
MAX_TITLE = 128
SENTENCE_MARK = re.compile(r"[。，,：:；;！!？?]")
NOTICE_WORDS = re.compile(r"通知|通告|公告|公示|告知|倡议|提示")
ORG_SUFFIX = re.compile(
    r"(部|厅|局|委|委员会|政府|办公厅|办公室|总署|中心|指挥部|领导小组|小组|银行|分行|管委会|扶贫办)$"
)
DOC_NUMBER = re.compile(r"^\S*?〔\d{4}〕\d+号-?")
# An issuing body at the start of a news-style title: "山西省人社厅推行…", "国家邮政局启动…"
LEADING_ORG = re.compile(
    r"^(?:国家|中共)?[\u4e00-\u9fa5]{0,14}?"
    r"(?:人民政府办公厅|人民政府办公室|人民政府|办公厅|办公室|委员会|管委会|指挥部|总署|总局"
    r"|(?<![全内局干])部(?![署分门])|(?<![布格结全大当])局|厅|委(?!书记))"
)

# Laws and regulations a city hotline is asked about (names as in lawrefbook db.sqlite3).
HOTLINE_LAWS = [
    "社会保险法",
    "社会保险费征缴暂行条例",
    "社会保险经办条例",
    "工伤保险条例",
    "失业保险条例",
    "劳动法",
    "劳动合同法",
    "劳动合同法实施条例",
    "劳动争议调解仲裁法",
    "就业促进法",
    "劳动保障监察条例",
    "保障农民工工资支付条例",
    "工资支付暂行规定",
    "女职工劳动保护特别规定",
    "关于职工全年月平均工作时间和工资折算问题的通知",
    "最高人民法院关于审理劳动争议案件适用法律问题的解释（一）",
    "住房公积金管理条例",
    "物业管理条例",
    "最高人民法院关于审理物业服务纠纷案件适用法律若干问题的解释",
    "城市房地产管理法",
    "不动产登记暂行条例",
    "国有土地上房屋征收与补偿条例",
    "消费者权益保护法",
    "侵害消费者权益行为处罚办法",
    "明码标价和禁止价格欺诈规定",
    "价格法",
    "产品质量法",
    "食品安全法",
    "城市市容和环境卫生管理条例",
    "城市道路管理条例",
    "城市绿化条例",
    "城市供水条例",
    "城镇燃气管理条例",
    "城市公共交通条例",
    "噪声污染防治法",
    "固体废物污染环境防治法",
    "道路交通安全法",
    "道路交通安全法实施条例",
    "道路交通安全违法行为记分管理办法",
    "道路交通事故处理程序规定",
    "户口登记条例",
    "居住证暂行条例",
    "医疗保障基金使用监督管理条例",
    "城市居民最低生活保障条例",
    "社会救助暂行办法",
    "城市生活无着的流浪乞讨人员救助管理办法",
    "殡葬管理条例",
    "残疾人保障法",
    "老年人权益保障法",
    "无障碍环境建设法",
    "义务教育法",
    "学前教育法",
    "信访工作条例",
    "治安管理处罚法",
    "反电信网络诈骗法",
    "优化营商环境条例",
    "邮政法",
    "电信条例",
]


def write_jsonl(path: Path, rows: Iterable[dict]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def cut_title(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"


def unique(title: str, seen: set[str], tag: str) -> str:
    if title in seen:
        title = cut_title(title[: MAX_TITLE - len(tag) - 2]) + f"（{tag}）"
    seen.add(title)
    return title


def policy_title(text: str) -> str:
    segments = text.split()
    title = segments[0]
    last = title
    for seg in segments[1:]:
        if len(title) >= 12 and not (len(last) <= 20 and ORG_SUFFIX.search(last)):
            break
        last = SENTENCE_MARK.split(seg, maxsplit=1)[0]
        title += " " + last
    return cut_title(SENTENCE_MARK.split(title, maxsplit=1)[0] if len(title) > 60 else title)


def policy_department(title: str) -> str | None:
    title = DOC_NUMBER.sub("", title).removeprefix("转发")
    lead = title.split("关于", 1)[0] if "关于" in title else title.split(" ", 1)[0]
    lead = lead.strip().split(" ")[0].split("转发", 1)[0]
    if 2 <= len(lead) <= 40 and ORG_SUFFIX.search(lead) and not re.search(r"\d", lead):
        return lead
    m = LEADING_ORG.match(title)
    if (
        m
        and len(m.group(0)) >= 3
        and not m.group(0).startswith(("关于", "各地", "各"))
        and "多部" not in m.group(0)
    ):
        return m.group(0)
    return None


SIGNED = re.compile(r"(20\d\d)年(\d{1,2})月(\d{1,2})日")
SIGNATURE_CHARS = 60  # the signing date stands at the end of an official text


def signing_date(text: str) -> str | None:
    """The last full date in the closing characters of a text ("…人民政府 2020年2月7日"), ISO."""
    found = SIGNED.findall(text.strip()[-SIGNATURE_CHARS:])
    if not found:
        return None
    year, month, day = (int(x) for x in found[-1])
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def build_policies(src: Path, table: dict[str, Counter[str]] | None = None) -> Iterator[dict]:
    """The policy collection; table (when given) gets the category counts before/after the rules."""
    seen: set[str] = set()
    with (src / "ncp_policy_qa/documents.jsonl").open(encoding="utf-8") as f:
        for line in f:
            doc = json.loads(line)
            text = normalise(doc["text"].strip())
            title = unique(policy_title(text), seen, doc["docid"][:6])
            category = classify(title, text).category
            if table is not None:
                table["before"]["通知公告" if NOTICE_WORDS.search(title) else "政策法规"] += 1
                table["after"][category] += 1
            yield {
                "external_id": f"ncp-{doc['docid']}",
                "title": title,
                "category": category,
                "department": policy_department(title),
                "body": text,
                "keywords": [],
                "published_at": signing_date(text),
                "valid_until": None,
            }


def build_faq(src: Path) -> Iterator[dict]:
    seen: set[str] = set()
    with (src / "ncp_policy_qa/qa_pairs.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            question, answer = normalise((row["question"] or "").strip()), normalise((row["answer"] or "").strip())
            if not question or not answer:
                continue
            title = cut_title(question)
            if title in seen:
                continue
            seen.add(title)
            yield {
                "external_id": f"faq-{row['id']}",
                "title": title,
                "category": "常见问题",
                "question": question,
                "answer": answer,
                "body": answer,
                "keywords": [],
            }


ARTICLE = re.compile(r"^第([零〇一二两三四五六七八九十百千]+)条(?:之([一二三四五六七八九十]+))?[\s　]*(.*)$")


def law_slug(name: str) -> str:
    letters = "".join(p[0] for p in lazy_pinyin(name) if p and p[0].isalnum())
    return f"{letters.lower()}{hashlib.sha1(name.encode()).hexdigest()[:4]}"


def split_articles(markdown: str) -> Iterator[tuple[str, str, str]]:
    """Yield (article label, article number for ids, text) from a lawrefbook Markdown file."""
    body = markdown.split("<!-- INFO END -->", 1)[-1]
    label = number = None
    lines: list[str] = []
    for raw in body.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = ARTICLE.match(line)
        if m:
            if label:
                yield label, number, "\n".join(lines)
            label = line[: m.end(2) if m.group(2) else m.end(1) + 1]
            number = str(cn2an.cn2an(m.group(1), "smart"))
            if m.group(2):
                number += f"-{cn2an.cn2an(m.group(2), 'smart')}"
            lines = [line]
        elif label:
            lines.append(line)
    if label:
        yield label, number, "\n".join(lines)


def build_laws(src: Path) -> Iterator[dict]:
    base = src / "lawrefbook_laws"
    db = sqlite3.connect(base / "db.sqlite3")
    rows = db.execute(
        "SELECT l.name, l.publish, l.valid_from, c.folder FROM law l JOIN category c ON c.id = l.category_id "
        "WHERE l.expired = 0 ORDER BY l.publish"
    ).fetchall()
    latest = {name: (publish, valid_from, folder) for name, publish, valid_from, folder in rows}
    for name in HOTLINE_LAWS:
        if name not in latest:
            raise SystemExit(f"law not found or expired in db.sqlite3: {name}")
        publish, valid_from, folder = latest[name]
        path = base / folder / f"{name}({publish}).md"
        if not path.exists():
            raise SystemExit(f"law file missing: {path}")
        slug = law_slug(name)
        for label, number, text in split_articles(path.read_text(encoding="utf-8")):
            yield {
                "external_id": f"law-{slug}-{number}",
                "title": cut_title(f"{name} {label}"),
                "category": "政策法规",
                "body": to_simplified(text),
                "keywords": [name],
                "published_at": valid_from or publish or None,
                "valid_until": None,
                "source_url": "https://flk.npc.gov.cn/",
            }


GUIDE_SECTIONS = ("申请条件", "申报材料", "办理流程", "办理时限", "收费标准", "设定依据", "咨询方式")

GUIDES = [
    {
        "external_id": "guide-gjj-withdraw",
        "title": "住房公积金提取办理指南",
        "department": "市住房公积金管理中心",
        "keywords": ["公积金", "住房公积金", "提取", "取公积金"],
        "sections": {
            "申请条件": "职工有下列情形之一的，可以提取本人住房公积金账户内的存储余额：购买、建造、翻建、大修自住住房的；"
            "离休、退休的；完全丧失劳动能力并与单位终止劳动关系的；出境定居的；偿还购房贷款本息的；"
            "房租超出家庭工资收入规定比例的。",
            "申报材料": "1. 本人有效身份证件；\n2. 本人银行卡（一类账户）；\n3. 与提取情形对应的证明材料，如购房合同、"
            "不动产权证书、退休证明、贷款合同及还款明细、房屋租赁合同等。",
            "办理流程": "1. 通过住房公积金网上服务大厅、手机应用或到管理中心服务网点提出申请；\n2. 管理中心受理并审核材料；"
            "\n3. 审核通过后，提取资金转入本人银行账户。",
            "办理时限": "住房公积金管理中心自受理申请之日起3日内作出准予提取或者不准提取的决定，并通知申请人；"
            "准予提取的，由受委托银行办理支付手续。",
            "收费标准": "不收费。",
            "设定依据": "《住房公积金管理条例》第二十四条、第二十五条。",
            "咨询方式": "拨打12345政务服务便民热线，或到市住房公积金管理中心各服务网点咨询。",
        },
    },
    {
        "external_id": "guide-residence-permit",
        "title": "居住证办理指南",
        "department": "市公安局",
        "keywords": ["居住证", "暂住证", "流动人口", "办居住证"],
        "sections": {
            "申请条件": "离开常住户口所在地，到本市居住半年以上，符合有合法稳定就业、合法稳定住所、"
            "连续就读条件之一的公民，可以申领居住证。",
            "申报材料": "1. 本人居民身份证；\n2. 本人近期相片；\n3. 居住地住址、就业、就读等证明材料"
            "（如房屋租赁合同、房屋产权证明、劳动合同、营业执照、学校就读证明）。",
            "办理流程": "1. 到居住地公安派出所或受公安机关委托的社区服务机构提交申请；\n2. 受理机关审核材料；"
            "\n3. 符合条件的制作发放居住证；\n4. 居住证每年签注一次。",
            "办理时限": "受理之日起15日内发放居住证；交通不便地区可延长至30日。",
            "收费标准": "首次申领免费；换领、补领按规定缴纳工本费。",
            "设定依据": "《居住证暂行条例》第九条、第十条、第十一条。",
            "咨询方式": "拨打12345政务服务便民热线，或向居住地公安派出所咨询。",
        },
    },
    {
        "external_id": "guide-sscard-reissue",
        "title": "社会保障卡挂失补办指南",
        "department": "市人力资源和社会保障局",
        "keywords": ["社保卡", "社会保障卡", "补办", "挂失", "丢失"],
        "sections": {
            "申请条件": "社会保障卡遗失、损坏或信息变更需要换卡的参保人员。",
            "申报材料": "1. 本人有效身份证件；\n2. 代办的，另需代办人身份证件；\n3. 近期免冠证件照（现场可拍照）。",
            "办理流程": "1. 先通过12333服务电话、网上办事大厅、手机应用或合作银行网点办理临时挂失；"
            "\n2. 到社保卡服务网点或合作银行网点申请补卡；\n3. 领取新卡并激活社保功能与金融功能。",
            "办理时限": "具备即时制卡条件的网点当场办结；其他网点一般在10个工作日内制卡完成。",
            "收费标准": "补换卡按规定收取工本费，特殊困难群体按规定减免。",
            "设定依据": "《中华人民共和国社会保险法》第五十八条。",
            "咨询方式": "拨打12345政务服务便民热线或12333人社服务热线。",
        },
    },
    {
        "external_id": "guide-unemployment-registration",
        "title": "失业登记及失业保险金申领指南",
        "department": "市人力资源和社会保障局",
        "keywords": ["失业登记", "失业保险金", "失业金", "领失业金"],
        "sections": {
            "申请条件": "在法定劳动年龄内、有劳动能力和就业要求、处于失业状态的城乡劳动者，可以办理失业登记。"
            "失业前用人单位和本人已经缴纳失业保险费满一年、非因本人意愿中断就业、已经进行失业登记并有求职要求的，"
            "可以申领失业保险金。",
            "申报材料": "1. 本人有效身份证件；\n2. 与用人单位解除或者终止劳动关系的证明（可由经办机构联网核查）；"
            "\n3. 本人社会保障卡或银行账户信息。",
            "办理流程": "1. 通过网上办事大厅、手机应用或到公共就业服务机构办理失业登记；\n2. 同时提出失业保险金申请；"
            "\n3. 经办机构审核；\n4. 审核通过后按月发放失业保险金。",
            "办理时限": "失业登记即时办理；失业保险金自受理之日起在规定时限内核定并按月发放。",
            "收费标准": "不收费。",
            "设定依据": "《中华人民共和国社会保险法》第四十五条至第五十条；《失业保险条例》第十四条；"
            "《中华人民共和国就业促进法》。",
            "咨询方式": "拨打12345政务服务便民热线或12333人社服务热线。",
        },
    },
    {
        "external_id": "guide-minimum-living",
        "title": "城乡居民最低生活保障申请指南",
        "department": "市民政局",
        "keywords": ["低保", "最低生活保障", "困难救助"],
        "sections": {
            "申请条件": "共同生活的家庭成员人均收入低于当地最低生活保障标准，且符合当地最低生活保障家庭财产状况规定的家庭。",
            "申报材料": "1. 申请书；\n2. 家庭成员身份证件、户口簿；\n3. 家庭收入、财产状况的说明及相关证明材料；"
            "\n4. 授权核对家庭经济状况的授权书。",
            "办理流程": "1. 向户籍所在地乡镇人民政府（街道办事处）提出书面申请，也可由村（居）民委员会代为提出；"
            "\n2. 入户调查、信息核对、民主评议；\n3. 公示；\n4. 县级民政部门审批；\n5. 按月发放低保金。",
            "办理时限": "一般自受理之日起30个工作日内作出审批决定。",
            "收费标准": "不收费。",
            "设定依据": "《社会救助暂行办法》第九条至第十一条；《城市居民最低生活保障条例》第七条。",
            "咨询方式": "拨打12345政务服务便民热线，或向所在街道（乡镇）社会救助窗口咨询。",
        },
    },
    {
        "external_id": "guide-medical-insurance-transfer",
        "title": "基本医疗保险关系转移接续指南",
        "department": "市医疗保障局",
        "keywords": ["医保", "医疗保险", "转移接续", "医保转移"],
        "sections": {
            "申请条件": "参加职工基本医疗保险或城乡居民基本医疗保险，跨统筹地区流动就业或居住，需要转移医疗保险关系的参保人员。",
            "申报材料": "1. 本人有效身份证件或社会保障卡；\n2. 参保凭证（可由经办机构线上获取）。",
            "办理流程": "1. 在新参保地参保后，通过国家医保服务平台、手机应用或到新参保地医保经办机构申请转移接续；"
            "\n2. 转出地与转入地经办机构办理转移手续；\n3. 缴费年限按规定累计计算。",
            "办理时限": "一般在45个工作日内办结。",
            "收费标准": "不收费。",
            "设定依据": "《中华人民共和国社会保险法》第三十二条。",
            "咨询方式": "拨打12345政务服务便民热线或12393医保服务热线。",
        },
    },
]


def build_guides() -> Iterator[dict]:
    for guide in GUIDES:
        sections = guide["sections"]
        assert tuple(sections) == GUIDE_SECTIONS, guide["title"]
        body = "\n\n".join(f"## {name}\n\n{text}" for name, text in sections.items())
        yield {
            "external_id": guide["external_id"],
            "title": guide["title"],
            "category": "办事指南",
            "department": guide["department"],
            "keywords": guide["keywords"],
            "body": body,
        }


CASE_LIMIT = 300
MIN_MESSAGE, MIN_REPLY = 40, 150  # characters: shorter ones say too little to serve as an example
# a reply that only acknowledges or forwards the message answers nothing
EMPTY_REPLY = re.compile(r"已有相关单位作出回复|请您耐心等待|详见|已转[^。]{0,12}(?:核查|办理|办复)")
SUBSTANTIVE_REPLY = re.compile(r"经查|经核实|核实|调查|答复如下|回复如下|根据|依据")
CASE_WHITESPACE = re.compile(r"[\s\u3000]+")
# the greeting a message or reply opens with ("尊敬的领导：您好！", "网友您好！") says nothing about the case
GREETING = re.compile(r"^(?:(?:尊敬的|亲爱的|各位|来信)?[^，,。！!：:]{0,12}?[：:，,]?\s*)?(?:您好|你好)[！!，,。：:]?\s*")


def case_text(value: object) -> str:
    return CASE_WHITESPACE.sub(" ", str(value or "")).strip()


def case_date(value: object) -> date | None:
    """附件4's times: datetime cells or text like "2019/4/25 9:32:09" / "2017-06-08 17:31:20"."""
    if hasattr(value, "date"):
        return value.date()
    m = re.match(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", str(value or "").strip())
    return date(int(m[1]), int(m[2]), int(m[3])) if m else None


def good_case(message: str, reply: str) -> bool:
    return (
        len(message) >= MIN_MESSAGE
        and len(reply) >= MIN_REPLY
        and not EMPTY_REPLY.search(reply)
        and bool(SUBSTANTIVE_REPLY.search(reply))
    )


def build_cases(src: Path, limit: int = CASE_LIMIT) -> Iterator[dict]:
    """典型案例: the newest `limit` messages of 附件4 with a substantive official reply (by reply date,
    then message number), personal data masked in the subject, the message and the reply."""
    wb = openpyxl.load_workbook(src / "tipdm2020c_gov_messages/附件4.xlsx", read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))[1:]
    chosen = []
    for number, _user, subject, _asked, message, reply, replied in rows:
        message, reply = GREETING.sub("", case_text(message)), GREETING.sub("", case_text(reply))
        when = case_date(replied)
        if number is None or when is None or not subject or not good_case(message, reply):
            continue
        chosen.append((when, int(number), case_text(subject), message, reply))
    chosen.sort(key=lambda c: (c[0], c[1]), reverse=True)
    seen: set[str] = set()
    for when, number, subject, message, reply in chosen[:limit]:
        title = unique(cut_title(normalise(mask_personal_text(subject), typos=False)), seen, str(number))
        body = (
            "## 群众留言\n\n" + normalise(mask_personal_text(message), typos=False)
            + "\n\n## 答复意见\n\n" + normalise(mask_personal_text(reply), typos=False)
        )
        yield {
            "external_id": f"case-{number}",
            "title": title,
            "category": "典型案例",
            "body": body,
            "keywords": [],
            "published_at": when.isoformat(),
            "valid_until": None,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/data"))
    parser.add_argument("--out", type=Path, default=ROOT / "data" / "kb")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, Counter[str]] = {"before": Counter(), "after": Counter()}
    counts = {
        "ncp_policies.jsonl": write_jsonl(args.out / "ncp_policies.jsonl", build_policies(args.source, table)),
        "ncp_faq.jsonl": write_jsonl(args.out / "ncp_faq.jsonl", build_faq(args.source)),
        "laws.jsonl": write_jsonl(args.out / "laws.jsonl", build_laws(args.source)),
        "guides.jsonl": write_jsonl(args.out / "guides.jsonl", build_guides()),
        "cases.jsonl": write_jsonl(args.out / "cases.jsonl", build_cases(args.source)),
    }
    for name, n in counts.items():
        print(f"{name}: {n} documents", file=sys.stderr)
    print("policy collection by category (before: notice words in the title, else 政策法规; after: kb.content):")
    print(count_table(table["before"], table["after"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
