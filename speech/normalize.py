"""Text normalisation for reading aloud, sentence splitting, and spoken digits back to digit strings.

Rules (tested in tests/speech/test_normalize.py):
- a number followed by a unit, currency or counter (元, 万元, 个, 天, 年 ...) is an amount: 12345元 -> 一万二千三百四十五元;
- phone numbers, case numbers and other bare digit runs of 5+ digits, runs that start with 0, and service
  numbers (110, 119, 120, 122, 12345 ...) are read digit by digit with 1 as 幺: 12345 -> 幺二三四五;
- shorter bare numbers are cardinal: 请按1 -> 请按一; decimals: 3.5 -> 三点五;
- dates 2024-05-01 / 2024年5月1日 -> 二零二四年五月一日; times 14:30 -> 十四点三十分; 12.5% -> 百分之十二点五;
- ranges 3-5个工作日 -> 三至五个工作日, 10%-20% -> 百分之十到百分之二十; 2‰ -> 千分之二; 1/3 -> 三分之一;
- 两 for 2 before measure words and as the leading 2 of 千/万/亿: 共2批 -> 共两批, 2000元 -> 两千元;
- "/" between a quantity and a unit is 每 (元/月 -> 元每月), between words 或 (身份证/户口本);
- a decimal at the start of a line is a number (1.5亿元), not a list number (1. 提交材料);
- Latin acronyms are spelled (APP -> A P P); `letters_to_chinese` gives Chinese letter names for voices
  that cannot read Latin letters (Kokoro): APP -> 诶皮皮;
- markdown markup is dropped (`plain_text`) and punctuation is reduced to pause marks (，。？！).
"""

from __future__ import annotations

import logging
import re

import cn2an

DIGIT_READING = dict(zip("0123456789", "零幺二三四五六七八九", strict=True))
PLAIN_DIGITS = dict(zip("0123456789", "零一二三四五六七八九", strict=True))
SERVICE_NUMBERS = {"110", "112", "114", "119", "120", "122", "12345", "12315", "12348", "12369", "12388"}
UNITS = (
    "亿元|万元|千元|百元|元|块|角|分钟|秒钟|小时|个月|周岁|岁|万|亿|千米|公里|平方米|立方米|平米|米|厘米|毫米|公斤|千克|克|吨|"
    "个工作日|工作日|日|天|年|周|月|号|次|个|位|名|人|户|家|件|项|条|份|本|张|套|辆|台|间|所|种|类|级|倍|层|栋|室|批|期|届|"
    "度|升|毫升|页|章|节|款|点|号线|路"
)
COUNTERS_TAKING_LIANG = (
    "个|位|名|人|户|家|件|项|条|份|本|张|套|辆|台|间|所|种|类|倍|次|天|年|周|小时|个月|个工作日|岁|周岁|"
    "批|笔|只|部|座|处|遍|趟|句|元|块|角|分钟|秒钟|公里|千米|米|公斤|千克|克|吨|万元|亿元|千元|千|万|亿|点"
)
# after a quantity and its unit, "/" is 每 when a unit or period follows: 元/月, 人/次, 5只/人
PER_UNITS = "平方厘米|平方公里|立方米|人次|人|次|户|家|月|年|日|天|周|小时|分钟|秒|只|件|个|平方米|平米|亩|吨|公斤|千克|克|升|毫升|张|份|套|间|辆|台|批"
UNIT_SYMBOLS = {
    "mg": "毫克",
    "kg": "千克",
    "km": "公里",
    "ml": "毫升",
    "mL": "毫升",
    "cm": "厘米",
    "mm": "毫米",
    "m²": "平方米",
    "㎡": "平方米",
    "m2": "平方米",
    "g": "克",
    "L": "升",
    "m": "米",
    "℃": "摄氏度",
    "°C": "摄氏度",
}
SYMBOLS = {
    "+": "加",
    "＋": "加",
    "&": "和",
    "@": "艾特",
    "×": "乘",
    "=": "等于",
    "≥": "大于等于",
    "≤": "小于等于",
}
LETTER_NAMES = dict(
    zip(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "诶 必 西 迪 伊 艾弗 吉 艾尺 艾 杰 开 艾勒 艾姆 恩 欧 皮 丘 阿 艾斯 提 优 维 达布留 艾克斯 歪 贼德".split(),
        strict=True,
    )
)
_FULL_WIDTH_LATIN = {code: code - 0xFEE0 for code in [*range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B)]}
LATIN_WORDS = {"email": "伊妹儿", "wifi": "歪法艾", "ok": "欧开"}
NUMBER = r"\d+(?:\.\d+)?"


def read_digits(digits: str, *, yao: bool = True) -> str:
    """Read a digit string one digit at a time (1 as 幺 unless yao is False)."""
    table = DIGIT_READING if yao else PLAIN_DIGITS
    return "".join(table.get(ch, ch) for ch in digits)


def read_number(number: str) -> str:
    """Cardinal reading: 12345 -> 一万二千三百四十五, 3.50 -> 三点五零."""
    whole, _, fraction = number.partition(".")
    whole = whole.lstrip("0") or "0"
    text = cn2an.an2cn(whole, "low") if len(whole) <= 16 else read_digits(whole, yao=False)
    if fraction:
        text += "点" + read_digits(fraction, yao=False)
    return text


def _date(match: re.Match[str]) -> str:
    year, month, day = match.group(1), match.group(2), match.group(3)
    text = read_digits(year, yao=False) + "年" + read_number(month) + "月"
    return text + (read_number(day) + "日" if day else "")


def _time(match: re.Match[str]) -> str:
    hour, minute, second = match.group(1), match.group(2), match.group(3)
    text = read_number(hour) + "点"
    if minute != "00" or second:
        text += ("零" if minute.startswith("0") and minute != "00" else "") + read_number(minute) + "分"
    if second:
        text += read_number(second) + "秒"
    return text


def read_quantity(number: str) -> str:
    """A cardinal as said before a unit: 两 for a leading 2 of 千/万/亿 (2000 -> 两千, 2万 -> 两万)."""
    spoken = read_number(number)
    return "两" + spoken[1:] if re.match(r"二[千万亿]", spoken) else spoken


def _amount(match: re.Match[str]) -> str:
    number, unit = match.group(1), match.group(2)
    spoken = read_quantity(number)
    if number == "2" and re.fullmatch(COUNTERS_TAKING_LIANG, unit):
        spoken = "两"
    return spoken + unit


def _per(match: re.Match[str]) -> str:
    return "每"


def _bare_number(match: re.Match[str]) -> str:
    number = match.group(0)
    if "." in number:
        return read_number(number)
    if len(number) >= 5 or (number.startswith("0") and len(number) > 1) or number in SERVICE_NUMBERS:
        return read_digits(number)
    return read_quantity(number)


def _acronym(match: re.Match[str]) -> str:
    return " ".join(match.group(0))


def _percent_range(match: re.Match[str]) -> str:
    low, high, sign = match.group(1), match.group(2), match.group(3)
    word = "百分之" if sign in "%％" else "千分之"
    return word + read_number(low) + "到" + word + read_number(high)


def letters_to_chinese(text: str) -> str:
    """Latin letters as Chinese letter names, for voices that cannot read them: APP -> 诶皮皮,
    PDF -> 皮迪艾弗; a few words keep their usual Chinese reading (Email -> 伊妹儿)."""

    def word(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.lower() in LATIN_WORDS:
            return LATIN_WORDS[token.lower()]
        return "".join(LETTER_NAMES[ch] for ch in token.upper())

    text = text.translate(_FULL_WIDTH_LATIN)
    text = re.sub(r"[A-Za-z]+", word, text)
    return re.sub(r"(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])", "", text)


def normalize_for_speech(text: str) -> str:
    """Rewrite text so a TTS engine reads numbers, dates, phone and case numbers as a person would."""
    text = re.sub(r"^\s{0,3}#{1,6}\s*", "", text, flags=re.MULTILINE)  # markdown headings
    text = re.sub(r"\*\*|__|`|^\s*[-*+>]\s+", "", text, flags=re.MULTILINE)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: keep the label
    # a list number (1. / 1、 / 1）), not a decimal at the start of a line (1.5亿元)
    text = re.sub(
        r"^\s*(\d{1,2})(?:[.．](?!\d)|[、)）])\s*",
        lambda m: read_number(m.group(1)) + "，",
        text,
        flags=re.MULTILINE,
    )
    text = re.sub(
        r"https?://[!-~]+|(?:www\.)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:cn|com|org|net)(?:/[!-~]*)?",
        "",
        text,
    )
    text = text.replace("＃", "#").replace("＊", "*")
    text = re.sub(r"(按|拨)?#(号)?(键)?", lambda m: (m.group(1) or "") + "井号" + (m.group(3) or ""), text)
    text = re.sub(r"按\*(号)?", "按星号", text)
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)  # thousands separators
    text = re.sub(r"[¥￥]\s*(" + NUMBER + r")\s*(万|亿)?元?", r"\1\2元", text)  # ¥100元: one 元
    text = re.sub(r"(\d{4})[-/.年](\d{1,2})[-/.月](?:(\d{1,2})[日号]?)?(?!\d)", _date, text)
    text = re.sub(r"(\d{4})年", lambda m: read_digits(m.group(1), yao=False) + "年", text)
    clock = r"(?<!\d)(\d{1,2}):(\d{2})(?::(\d{2}))?(?!\d)"
    text = re.sub(clock + r"\s*[-~～—至到]\s*(?=\d{1,2}:\d{2})", lambda m: _time(m) + "至", text)
    text = re.sub(clock, _time, text)
    text = re.sub(r"(" + NUMBER + r")[%％‰]?\s*[-~～—至到]\s*(" + NUMBER + r")([%％‰])", _percent_range, text)
    text = re.sub(r"(" + NUMBER + r")[%％]", lambda m: "百分之" + read_number(m.group(1)), text)
    text = re.sub(r"(" + NUMBER + r")‰", lambda m: "千分之" + read_number(m.group(1)), text)
    text = re.sub(
        r"(?<![\d/])(\d{1,3})/(\d{1,3})(?![\d/])",
        lambda m: read_number(m.group(2)) + "分之" + read_number(m.group(1)),
        text,
    )
    units = "|".join(sorted(map(re.escape, UNIT_SYMBOLS), key=len, reverse=True))
    text = re.sub(
        r"(" + NUMBER + r")\s*(" + units + r")(?![A-Za-z])",
        lambda m: m.group(1) + UNIT_SYMBOLS[m.group(2)],
        text,
    )
    text = re.sub(
        r"(克|升|公里|米)/(L|kg|m²|㎡)", lambda m: m.group(1) + "每" + UNIT_SYMBOLS[m.group(2)], text
    )
    text = re.sub(r"(?<=[\u4e00-\u9fff\d])[/／](?=(?:" + PER_UNITS + r")(?![\u4e00-\u9fff]{2}))", _per, text)
    text = re.sub(r"(?<=[\u4e00-\u9fff])[/／](?=[\u4e00-\u9fff])", "或", text)
    for symbol, reading in SYMBOLS.items():
        text = text.replace(symbol, reading)
    text = re.sub(r"[\u2460-\u2473]", lambda m: read_number(str(ord(m.group(0)) - 0x245F)), text)  # ①-⑳
    text = re.sub(r"[\u2160-\u216b]", lambda m: read_number(str(ord(m.group(0)) - 0x215F)), text)  # Ⅰ-Ⅻ
    text = re.sub(
        r"(?<!\d)(0\d{2,3})-(\d{7,8})(?!\d)",
        lambda m: read_digits(m.group(1)) + "，" + read_digits(m.group(2)),
        text,
    )
    text = re.sub(
        r"(?<!\d)(\d{3,4})-(\d{3,4})-(\d{4})(?!\d)", lambda m: "，".join(map(read_digits, m.groups())), text
    )
    text = re.sub(
        r"(" + NUMBER + r")\s*[-~～—]\s*(" + NUMBER + r")(?=\s*(?:" + UNITS + r"))",
        lambda m: read_number(m.group(1)) + "至" + m.group(2),
        text,
    )
    text = re.sub(r"(" + NUMBER + r")\s*(" + UNITS + r")", _amount, text)
    text = re.sub(r"第(\d+)", lambda m: "第" + read_number(m.group(1)), text)
    text = re.sub(NUMBER, _bare_number, text)
    text = re.sub(r"(?<![A-Za-z])[A-Z]{2,6}(?![A-Za-z])", _acronym, text)
    text = re.sub(r"[、；;：:]", "，", text)
    text = re.sub(r"[——…→]+|[（(【\[「『《〔﹝〈]|[)）】\]」』》〕﹞〉]", "，", text)
    text = re.sub(r"[■●★☆◆◇□○·•]", "", text)
    text = re.sub(r"[\"“”‘’'|~～^]", "", text)
    text = re.sub(r"[!！]", "！", text)
    text = re.sub(r"[?？]", "？", text)
    text = re.sub(r"(?<=[\u4e00-\u9fff])\.(?!\d)|(?<=[\u4e00-\u9fff])\.$", "。", text)
    text = re.sub(r"，\s*(?=[，。？！])", "", text)
    text = re.sub(r"^[，\s]+", "", text)
    text = re.sub(r"[ \t]+", " ", text)
    text = re.sub(r"\s*\n\s*", "\n", text)
    return text.strip()


def split_sentences(
    text: str, *, max_chars: int = 60, first_clause: bool = False, quick: bool = False
) -> list[str]:
    """Split (already normalised) text into sentences to speak one by one; long ones at commas.

    With first_clause, the parts suit a voice slower than the telephone (Kokoro renders 1 s of speech in
    0.2-0.5 s): the first clause alone ("您好，"), so that the caller hears something soon, then clauses
    merged into parts that grow with what has been said so far, so that each part can be rendered while the
    ones before it play (a part at most as long as everything before it, at least 8 characters). A first
    clause longer than FIRST_CLAUSE_CHARS characters is cut at a word boundary within them.

    quick: for a text nobody has heard yet (not in the TTS cache), when the caller waits for its first
    audio: the first part at most QUICK_FIRST_CHARS characters and every later part cut between words
    to at most what was said before it, so that each is rendered in time; more pauses between words
    than the natural parts, which are what is rendered ahead of callers."""
    sentences: list[str] = []
    for part in re.split(r"(?<=[。！？!?])|\n+", text):
        part = part.strip()
        if not part:
            continue
        while len(part) > max_chars:
            cut = max(part.rfind("，", 0, max_chars), part.rfind(",", 0, max_chars))
            cut = cut + 1 if cut > max_chars // 3 else max_chars
            sentences.append(part[:cut].strip())
            part = part[cut:].strip()
        if part:
            sentences.append(part)
    return _growing_parts(sentences, max_chars, quick) if first_clause else sentences


FIRST_CLAUSE_CHARS = 12  # the first part's length at most (rendered while the caller waits)
QUICK_FIRST_CHARS = 6  # ... when nothing of the text is in the TTS cache yet (split_sentences quick)
_PUNCTUATION = "，。？！、；：,.?!;: "
_SPOKEN_NUMBER = re.compile(r"[零〇洞幺一二两三四五六七拐八九十百千万亿点]+")


def _cut_at_word(clause: str, limit: int) -> list[str]:
    """A clause longer than `limit` characters cut after the last word (jieba) within its first `limit`
    characters that leaves at least 4 characters to say after it, else after the first such word within
    twice as many; never between a number and its unit or date word ("二零二三|年度"); inside a word only
    when no word boundary will do."""
    if len(clause) <= limit:
        return [clause]
    import jieba

    jieba.setLogLevel(logging.WARNING)
    cuts, head = [], 0
    for word in jieba.lcut(clause, HMM=False):
        head += len(word)
        if head > 2 * limit:
            break
        if len(clause[head:].strip(_PUNCTUATION)) >= 4 and not _SPOKEN_NUMBER.fullmatch(word):
            cuts.append(head)
    within = [cut for cut in cuts if 3 <= cut <= limit]
    beyond = [cut for cut in cuts if cut > limit]
    cut = max(within) if within else min(beyond) if beyond else limit
    return [clause[:cut], clause[cut:]] if clause[cut:].strip(_PUNCTUATION) else [clause]


def _growing_parts(sentences: list[str], max_chars: int, quick: bool, min_chars: int = 8) -> list[str]:
    boundary = r"(?<=[，,])|(?<=[\u4e00-\u9fff]) (?=[\u4e00-\u9fff])"  # a comma, or 第十六条 + space
    clauses = [c.strip() for s in sentences for c in re.split(boundary, s) if c.strip()]
    first = QUICK_FIRST_CHARS if quick else FIRST_CLAUSE_CHARS
    parts: list[str] = []
    said = 0  # characters in the closed parts
    cap = 0
    while clauses:
        clause = clauses.pop(0)
        if parts and len(parts[-1]) + len(clause) <= cap:
            parts[-1] += clause
            continue
        said += len(parts[-1]) if parts else 0
        cap = min(max_chars, max(min_chars, said))
        # a new part is rendered while the ones before it play: the first one short; quick, the next
        # ones no longer than what has been said (at least min_chars)
        if not parts or quick:
            clause, *rest = _cut_at_word(clause, cap if parts else first)
            clauses[:0] = rest
        parts.append(clause)
    return parts


_SPOKEN_DIGIT = dict(zip("零〇洞幺一二两三四五六七拐八九", "000112234567789", strict=True))
_NUMERAL_RUN = re.compile(r"[0-9零〇洞幺一二两三四五六七拐八九十百千万]+")


def spoken_digits(text: str) -> str:
    """Digits spoken or keyed, as a digit string: "幺三八零零" -> "13800", "三十五" -> "35".

    Runs with place words (十百千万) are read as a number, others digit by digit; anything else is dropped.
    """
    out: list[str] = []
    for run in _NUMERAL_RUN.findall(text):
        if re.search(r"[十百千万]", run):
            try:
                out.append(str(int(cn2an.cn2an(run.replace("幺", "一"), "smart"))))
                continue
            except (ValueError, KeyError):
                run = re.sub(r"[十百千万]", "", run)
        out.append("".join(_SPOKEN_DIGIT.get(ch, ch) for ch in run))
    return "".join(out)
