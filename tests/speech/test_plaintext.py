"""Plain text for speech, SMS and fax: Markdown markup is gone, the words and the list numbers stay."""

from __future__ import annotations

import pytest

from speech import normalize_for_speech, plain_text


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("## 申请条件", "申请条件"),
        ("# 标题 #", "标题"),
        ("- 本人身份证\n* 户口本\n+ 照片", "本人身份证\n户口本\n照片"),
        ("1. 提交材料；\n2) 审核", "1. 提交材料；\n2. 审核"),
        ("**注意**：需要*本人*办理", "注意：需要本人办理"),
        ("详见[办事指南](https://example.gov.cn/guide)。", "详见办事指南。"),
        ("![流程图](a.png)", "流程图"),
        ("网址：<https://www.gov.cn>", "网址：https://www.gov.cn"),
        ("> 温馨提示：请携带原件", "温馨提示：请携带原件"),
        ("第一行<br>第二行", "第一行\n第二行"),
        ("代码`12345`热线", "代码12345热线"),
        ("| 项目 | 标准 |\n|---|---:|\n| 补贴 | 1000元/人 |", "项目，标准\n补贴，1000元/人"),
        ("上文\n\n---\n\n\n\n下文", "上文\n\n下文"),
        ("按\\*号键返回，3*5=15", "按*号键返回，3*5=15"),
        ("缴费基数_上限_调整", "缴费基数_上限_调整"),  # no emphasis inside a word
    ],
)
def test_markup_is_removed(markdown: str, plain: str) -> None:
    assert plain_text(markdown) == plain


def test_a_kb_body_reads_without_markup() -> None:
    body = "## 申请条件\n\n职工有下列情形之一的，可以提取。\n\n## 申报材料\n\n1. 本人有效身份证件；\n2. 本人**银行卡**（一类账户）；"
    text = plain_text(body)
    assert not any(mark in text for mark in ("#", "**"))
    assert text.splitlines()[0] == "申请条件"
    assert "1. 本人有效身份证件；" in text
    assert "#" not in normalize_for_speech(text) and "一，本人有效身份证件" in normalize_for_speech(text)
