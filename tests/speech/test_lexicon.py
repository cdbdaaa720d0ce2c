"""Pronunciation for the neural voice: polyphones in policy words read right (speech.lexicon)."""

from __future__ import annotations

import pytest

from speech.lexicon import PRONUNCIATIONS, pronounce


def _pinyin(text: str) -> str:
    return " ".join(syllable for _, syllables in pronounce(text) for syllable in syllables)


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("到银行办理还款", "dao4 yin2 hang2 ban4 li3 huan2 kuan3"),
        ("提取公积金还房贷", "ti2 qu3 gong1 ji1 jin1 huan2 fang2 dai4"),
        ("每月还款额", "mei3 yue4 huan2 kuan3 e2"),
        ("还需提供", "hai2 xu1 ti2 gong1"),  # 还 as "still" stays hai2
        ("重庆市", "chong2 qing4 shi4"),
        ("长春市", "chang2 chun1 shi4"),
        ("用人单位", "yong4 ren2 dan1 wei4"),
        ("重新调整缴费基数", "chong2 xin1 tiao2 zheng3 jiao3 fei4 ji1 shu4"),
        ("重置密码", "chong2 zhi4 mi4 ma3"),
        ("重复申请", "chong2 fu4 shen1 qing3"),
        ("重要", "zhong4 yao4"),
        ("严重新冠", "yan2 zhong4 xin1 guan1"),  # 重新 across two words is not 重新
        ("工商银行支行行长", "gong1 shang1 yin2 hang2 zhi1 hang2 hang2 zhang3"),
        ("执行标准", "zhi2 xing2 biao1 zhun3"),
        ("调查", "diao4 cha2"),
        ("增长", "zeng1 zhang3"),
        ("幺二三四五", "yao1 er4 san1 si4 wu3"),
    ],
)
def test_policy_words_read_right(text: str, pinyin: str) -> None:
    assert _pinyin(text) == pinyin


def test_every_entry_has_one_reading_per_character() -> None:
    for word, syllables in PRONUNCIATIONS.items():
        assert len(word) == len(syllables), word
        assert all(s[-1] in "12345" for s in syllables), word


def test_words_keep_their_text() -> None:
    words = pronounce("到银行办理还款")
    assert "".join(word for word, _ in words) == "到银行办理还款"
    assert all(len(word) == len(syllables) for word, syllables in words)
