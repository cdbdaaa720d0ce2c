"""Reading text aloud: numbers, money, dates, phone and case numbers; sentence splitting; spoken digits."""

from __future__ import annotations

import itertools

import pytest

from speech import normalize_for_speech, split_sentences, spoken_digits
from speech.normalize import letters_to_chinese


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("请拨打12345热线", "请拨打幺二三四五热线"),  # hotline number: digit by digit, 1 as 幺
        ("补贴12345元", "补贴一万二千三百四十五元"),  # an amount
        ("最高3.5万元", "最高三点五万元"),
        ("¥1,234.5", "一千二百三十四点五元"),
        ("您的工单号是2026112400015", "您的工单号是二零二六幺幺二四零零零幺五"),
        ("手机13800138000", "手机幺三八零零幺三八零零零"),
        ("电话0571-87654321", "电话零五七幺，八七六五四三二幺"),
        ("拨打110报警", "拨打幺幺零报警"),
        ("请按1查询", "请按一查询"),
        ("2024-05-01起施行", "二零二四年五月一日起施行"),
        ("2024年5月1日", "二零二四年五月一日"),
        ("时间9:05", "时间九点零五分"),
        ("办理时间8:30-17:00", "办理时间八点三十分至十七点"),
        ("比例为12.5%", "比例为百分之十二点五"),
        ("3-5个工作日", "三至五个工作日"),
        ("需要2个人", "需要两个人"),
        ("第3个", "第三个"),
        ("下载APP", "下载A P P"),
        ("按#号键返回", "按井号键返回"),
        # two as 两 before measure words and as a leading 千/万/亿
        ("2000元", "两千元"),
        ("共2批", "共两批"),
        ("2万元", "两万元"),
        ("22000元", "两万二千元"),
        ("2.5万元", "二点五万元"),
        ("2月", "二月"),
        ("2号线", "二号线"),
        # a decimal at the start of a line is a number, not a list number
        ("1.5亿元", "一点五亿元"),
        ("说明\n1.5亿元用于补贴", "说明\n一点五亿元用于补贴"),
        ("1. 提交材料", "一，提交材料"),
        # "/" is 每 after a quantity before a unit, 或 between words; fractions
        ("500元/月", "五百元每月"),
        ("800元/人/月", "八百元每人每月"),
        ("4公斤/平方厘米", "四公斤每平方厘米"),
        ("身份证/户口本", "身份证或户口本"),
        ("占1/3", "占三分之一"),
        ("500mg/L", "五百毫克每升"),
        # per mille, percentage ranges, currency sign without doubling
        ("按日加收2‰的滞纳金", "按日加收千分之二的滞纳金"),
        ("10%-20%", "百分之十到百分之二十"),
        ("在2%至3.15%之间", "在百分之二到百分之三点一五之间"),
        ("¥100", "一百元"),
        ("¥100元", "一百元"),
        ("￥3万", "三万元"),
        ("体温38℃", "体温三十八摄氏度"),
        ("登录www.gov.cn查询", "登录查询"),
        ("③提交材料", "三提交材料"),
        ("第Ⅱ类", "第二类"),
    ],
)
def test_rules(text: str, spoken: str) -> None:
    assert normalize_for_speech(text) == spoken


def test_markdown_and_punctuation_become_pauses() -> None:
    text = "## 办理流程\n1. 提交材料；\n2. 审核（3个工作日）"
    assert normalize_for_speech(text) == "办理流程\n一，提交材料，\n二，审核，三个工作日，"
    assert not any(ch.isdigit() for ch in normalize_for_speech("2026年共受理12345件，增长3.2%。"))


@pytest.mark.parametrize(
    ("text", "chinese"),
    [
        ("下载APP", "下载诶皮皮"),
        ("打开PDF文件", "打开皮迪艾弗文件"),
        ("发Email", "发伊妹儿"),
        ("下载A P P", "下载诶皮皮"),  # normalize_for_speech's spelling, joined again
        ("ＡＰＰ", "诶皮皮"),  # full-width letters
    ],
)
def test_letters_to_chinese(text: str, chinese: str) -> None:
    assert letters_to_chinese(text) == chinese


def test_split_sentences_keeps_order_and_bounds_length() -> None:
    text = "第一句。第二句！" + "很长的一句话，" * 15
    parts = split_sentences(text, max_chars=60)
    assert parts[:2] == ["第一句。", "第二句！"]
    assert all(len(p) <= 60 for p in parts)
    assert "".join(parts) == text


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("幺三八零零", "13800"),
        ("我的号码是幺三八零零一三八零零零", "13800138000"),
        ("二零二六幺幺二四零零零幺五", "2026112400015"),
        ("三十五", "35"),
        ("两千零二十六", "2026"),
        ("洞拐", "07"),  # radio style: 洞 0, 拐 7
        ("没有数字", ""),
    ],
)
def test_spoken_digits(said: str, digits: str) -> None:
    assert spoken_digits(said) == digits


def test_split_sentences_first_clause_alone_then_growing_parts() -> None:
    text = "您好，这里是幺二三四五市民服务热线。请讲。"
    assert split_sentences(text, first_clause=True) == ["您好，", "这里是幺二三四五市民服务热线。", "请讲。"]
    assert split_sentences(text) == ["您好，这里是幺二三四五市民服务热线。", "请讲。"]
    assert split_sentences("好的。", first_clause=True) == ["好的。"]
    long = "职工有下列情形之一的，可以提取本人住房公积金账户内的存储余额，购买自住住房的，建造自住住房的，偿还购房贷款本息的。"
    parts = split_sentences(long, first_clause=True)
    assert parts[0] == "职工有下列情形之一的，" and "".join(parts) == long
    for n, part in enumerate(parts[1:], start=1):  # each part no longer than what was said before it
        assert len(part) <= max(8, len("".join(parts[:n]))) or "，" not in part.rstrip("，。")


def test_a_long_first_clause_is_cut_short_at_a_word_boundary() -> None:
    """The first part is rendered while the caller waits: at most ~12 characters, cut between words."""
    confirm = "您是想咨询城市夜间照明设施维护办法吗？是请按一，不是请按二。"
    parts = split_sentences(confirm, first_clause=True)
    assert parts[0] == "您是想咨询城市夜间照明" and "".join(parts) == confirm
    title = "关于进一步做好城乡居民基本医疗保险参保缴费工作的通知。"
    parts = split_sentences(title, first_clause=True)
    assert parts[0] == "关于进一步做好城乡居民" and "".join(parts) == title
    short = split_sentences("城市夜间照明设施维护办法。", first_clause=True)  # 13: cut, leaving 4 or more
    assert short == ["城市夜间照明设施", "维护办法。"]
    assert split_sentences("人工服务请按零。", first_clause=True) == ["人工服务请按零。"]
    assert all(len(p) <= 12 for p in split_sentences("一" * 30, first_clause=True)[:1])


def test_quick_parts_for_a_caller_waiting_for_an_uncached_text() -> None:
    """quick: the first part at most ~6 characters and each later one no longer than what was said
    before it (at least 8), all cut between words, so each is rendered in time on a slow machine."""
    title = "关于进一步做好城乡居民基本医疗保险参保缴费工作的通知。"
    assert split_sentences(title, first_clause=True, quick=True) == [
        "关于进一步",
        "做好城乡居民基本",
        "医疗保险参保缴费",
        "工作的通知。",
    ]
    confirm = "您是想咨询城市夜间照明设施维护办法吗？是请按一，不是请按二。"
    parts = split_sentences(confirm, first_clause=True, quick=True)
    assert parts[:2] == ["您是想咨询", "城市夜间照明设施"] and "".join(parts) == confirm
    for n, part in enumerate(parts[1:], start=1):
        assert len(part) <= max(8, len("".join(parts[:n])))
    assert split_sentences("人工服务请按零。", first_clause=True, quick=True) == ["人工服务请按零。"]


def test_parts_are_not_cut_inside_a_number() -> None:
    """Never between a number and its unit or date word, nor inside digits read out one by one."""
    text = "关于二零二三年度个人所得税综合所得汇算清缴事项的公告。"
    assert split_sentences(text, first_clause=True, quick=True)[0] == "关于二零二三年度"
    parts = split_sentences("您好，这里是幺二三四五市民服务热线。", first_clause=True, quick=True)
    assert all(not (a[-1] in "幺二三四五" and b[0] in "幺二三四五") for a, b in itertools.pairwise(parts))
