"""Build the bundled case-work data (data/casework/) from the TipDM 2020 C government messages.

    python scripts/build_case_data.py [--source /work/shared/data/tipdm2020c_gov_messages]

Writes
- categories.json: the official 3-level category tree (附件1) as [{"name", "children": [...]}].
- departments.json: city departments with remit text and routing keywords (the words a citizen would
  use, written by hand: words learned from the messages were mostly noise, e.g. 怎么, 本人, 今年; the
  learned routing model takes the messages instead), and how many messages name each as handling unit.
- routing_train.jsonl: training texts for the routing model (casework/routing_model.py):
  {"text", "category"} for the 9,210 messages labelled with their first-level category (the organiser's
  segmented texts, words joined again), and {"text", "department"} for the messages whose official reply
  (附件4) names exactly one city department as the handling unit (user ids and phone numbers masked).
- seed_messages.jsonl: a sample of real messages (user ids and phone numbers masked) for demos,
  the routing suggestion and tests: {"id", "topic", "content", "category", "department", "time"}.
Deterministic: the same source gives the same files.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import defaultdict
from pathlib import Path

import openpyxl

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "data" / "casework"
DEFAULT_SOURCE = Path("/work/shared/data/tipdm2020c_gov_messages")
SEED_LIMIT = 1200
TRAIN_CHARS = 300  # of a training text (the topic and the start of the message say where it goes)

# name -> (remit, keywords a citizen would use)
CITY_DEPARTMENTS: dict[str, tuple[str, list[str]]] = {
    "市住房公积金管理中心": (
        "住房公积金缴存、提取、贷款",
        ["公积金", "住房公积金", "提取", "公积金贷款", "缴存"],
    ),
    "市人力资源和社会保障局": (
        "就业、社会保险、劳动关系、工资支付、人才人事",
        ["社保", "养老保险", "失业", "工资", "欠薪", "劳动合同", "就业", "职称", "退休", "工伤", "人才"],
    ),
    "市住房和城乡建设局": (
        "房地产市场、物业管理、建筑工程质量与安全、保障性住房",
        ["物业", "房产", "开发商", "房屋", "小区", "楼盘", "交房", "施工", "安置房", "公租房", "维修资金"],
    ),
    "市城市管理局": (
        "市容环境卫生、占道经营、违章建筑、渣土、户外广告、城市照明",
        ["城管", "占道", "违建", "违章建筑", "垃圾", "渣土", "摊贩", "路灯", "广告牌", "市容"],
    ),
    "市市场监督管理局": (
        "市场主体登记、食品药品安全、价格、产品质量、消费者权益",
        ["消费", "食品", "退款", "商家", "价格", "营业执照", "假冒", "质量", "药品", "虚假宣传", "培训机构"],
    ),
    "市公安局": (
        "治安、户籍、出入境、交通管理、网络诈骗",
        [
            "户口",
            "户籍",
            "身份证",
            "居住证",
            "派出所",
            "诈骗",
            "噪音扰民",
            "交警",
            "违章",
            "驾驶证",
            "治安",
            "落户",
        ],
    ),
    "市交通运输局": (
        "公共交通、出租车、道路运输、公路",
        ["公交", "出租车", "地铁", "线路", "站台", "网约车", "客运", "公路", "班车"],
    ),
    "市生态环境局": (
        "大气、水、噪声、固体废物污染防治与环境执法",
        ["污染", "排污", "噪声", "废气", "臭味", "污水", "环保", "粉尘", "油烟", "扬尘"],
    ),
    "市教育局": (
        "学前、义务和高中教育、招生入学、学校管理、教师",
        ["学校", "入学", "学位", "幼儿园", "教师", "学生", "招生", "补课", "学区", "小学", "中学"],
    ),
    "市卫生健康委员会": (
        "医疗机构、公共卫生、疾病防控、计划生育",
        ["医院", "医生", "疫苗", "卫生", "诊所", "生育", "防疫", "体检", "医疗纠纷"],
    ),
    "市医疗保障局": (
        "医疗保险、医药价格与招采、医保基金",
        ["医保", "医疗保险", "报销", "医保卡", "异地就医"],
    ),
    "市民政局": (
        "社会救助、低保、养老服务、婚姻登记、社会组织、殡葬",
        ["低保", "救助", "养老院", "婚姻", "残疾", "殡葬", "困难", "社区", "老年人"],
    ),
    "市自然资源和规划局": (
        "国土空间规划、土地、不动产登记",
        ["规划", "土地", "不动产", "房产证", "征地", "拆迁"],
    ),
    "市水务局": ("供水、排水、防汛、河道", ["停水", "自来水", "水压", "排水", "下水道", "内涝", "河道"]),
    "市发展和改革委员会": ("价格管理、重大项目、能源", ["电价", "燃气", "天然气", "物价", "项目审批"]),
    "市农业农村局": ("农业生产、农村管理、农产品", ["农村", "农民", "种植", "养殖", "村民", "土地流转"]),
    "市文化旅游广电局": ("文化市场、旅游、广播电视", ["旅游", "景区", "导游", "网吧", "演出", "有线电视"]),
    "市应急管理局": ("安全生产、应急救援、防灾减灾", ["安全隐患", "安全生产", "消防", "危险品", "事故"]),
    "市财政局": ("财政资金、补贴发放、政府采购", ["补贴", "财政", "资金", "采购", "专项资金"]),
    "市信访局": ("信访事项的受理、交办、督办", ["信访", "上访"]),
}
# the first-level categories of the official tree that one city department handles (the routing model
# learns that department's words from the messages of its category; the other categories span several)
CATEGORY_OWNERS = {
    "劳动和社会保障": "市人力资源和社会保障局",
    "教育文体": "市教育局",
    "卫生计生": "市卫生健康委员会",
    "交通运输": "市交通运输局",
    "环境保护": "市生态环境局",
}
DEPT_RE = re.compile(r"(市[\u4e00-\u9fa5]{2,14}?(?:局|委员会|管理中心|中心|办公室))")
USER_RE = re.compile(r"A\d{5,}")
PHONE_RE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}")


def clean(text: object) -> str:
    return re.sub(r"\s+", " ", str(text or "")).strip()


def mask(text: str) -> str:
    text = USER_RE.sub("网友", text)
    return PHONE_RE.sub(lambda m: m.group(0)[:3] + "****" + m.group(0)[-4:], text)


def rows(path: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    data = list(wb.worksheets[0].iter_rows(values_only=True))
    return data[1:]


def build_categories(source: Path) -> list[dict]:
    tree: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for first, second, third in rows(source / "附件1.xlsx"):
        if first and second:
            leaf = clean(third)
            if leaf and leaf not in tree[clean(first)][clean(second)]:
                tree[clean(first)][clean(second)].append(leaf)
    return [
        {"name": a, "children": [{"name": b, "children": [{"name": c} for c in cs]} for b, cs in bs.items()]}
        for a, bs in tree.items()
    ]


def handling_unit(reply: str) -> str | None:
    """The city department a reply names, when it names exactly one we know."""
    found = {m for m in DEPT_RE.findall(reply) if m in CITY_DEPARTMENTS}
    return found.pop() if len(found) == 1 else None


def build(source: Path) -> dict[str, int]:
    OUT.mkdir(parents=True, exist_ok=True)
    categories = build_categories(source)
    (OUT / "categories.json").write_text(json.dumps(categories, ensure_ascii=False, indent=1) + "\n")

    texts: dict[str, list[str]] = defaultdict(list)
    seeds: list[dict] = []
    for msg_id, _user, topic, when, detail, reply, _reply_at in rows(source / "附件4.xlsx"):
        topic, detail, reply = clean(topic), clean(detail), clean(reply)
        unit = handling_unit(reply)
        if unit:
            texts[unit].append(f"{topic} {detail}")
        seeds.append(
            {
                "id": str(msg_id),
                "topic": mask(topic),
                "content": mask(detail)[:1000],
                "category": None,
                "department": unit,
                "time": clean(when),
            }
        )
    labelled = [
        {
            "id": str(r[0]),
            "topic": mask(clean(r[2])),
            "content": mask(clean(r[4]))[:1000],
            "category": clean(r[5]),
            "department": None,
            "time": clean(r[3]),
        }
        for r in rows(source / "file2.xlsx")[:400]
        if r[0]
    ]
    with_unit = [s for s in seeds if s["department"]]
    without = [s for s in seeds if not s["department"]]
    sample = (with_unit + without[: max(0, SEED_LIMIT - len(with_unit) - len(labelled))] + labelled)[
        :SEED_LIMIT
    ]
    with (OUT / "seed_messages.jsonl").open("w") as fh:
        for item in sample:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")

    departments = [
        {
            "name": name,
            "remit": remit,
            "keywords": words,
            "learned_from": len(texts[name]),
            "categories": sorted(c for c, owner in CATEGORY_OWNERS.items() if owner == name),
        }
        for name, (remit, words) in CITY_DEPARTMENTS.items()
    ]
    (OUT / "departments.json").write_text(json.dumps(departments, ensure_ascii=False, indent=1) + "\n")
    training = routing_examples(source, texts)
    with (OUT / "routing_train.jsonl").open("w") as fh:
        for item in training:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")
    return {
        "categories": len(categories),
        "departments": len(departments),
        "seed_messages": len(sample),
        "routing_train": len(training),
    }


def routing_examples(source: Path, unit_texts: dict[str, list[str]]) -> list[dict]:
    """The routing model's training texts: category-labelled messages, then department-labelled ones."""
    book = openpyxl.load_workbook(source / "原始数据集分词结果.xlsx", read_only=True)
    # the sheet has no header row: its first row is the first message
    labelled = [
        {"text": "".join(str(words).split())[:TRAIN_CHARS], "category": clean(category)}
        for words, category in book.worksheets[0].iter_rows(values_only=True)
        if words and category
    ]
    by_unit = [
        {"text": mask(text)[:TRAIN_CHARS], "department": unit}
        for unit, texts in sorted(unit_texts.items())
        for text in texts
    ]
    return labelled + by_unit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = parser.parse_args()
    print(build(args.source))


if __name__ == "__main__":
    main()
