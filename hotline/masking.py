"""Masking personal data for public views."""

from __future__ import annotations

import re

_PHONE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
_LANDLINE = re.compile(r"(?<!\d)(0\d{2,3}-?)(\d{3,4})(\d{4})(?!\d)")


def mask_phone(number: str | None) -> str:
    """138****5678 style: keep the first 3 and last 4 digits."""
    if not number:
        return ""
    digits = re.sub(r"\D", "", number)
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_head = 3 if len(digits) >= 7 else 1
    return digits[:keep_head] + "*" * (len(digits) - keep_head - 4) + digits[-4:]


def mask_phones_in_text(text: str) -> str:
    """Mask every mobile or landline number that appears inside free text."""
    text = _PHONE.sub(lambda m: m.group(1) + "****" + m.group(3), text)
    return _LANDLINE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


# --- personal data inside free text (citizens' messages shown as 典型案例) --------------------------
# Rules (tests/kb/test_content_rules.py runs them on real messages): user ids, ID card numbers, phone
# numbers, plate numbers, long digit runs (bank cards, QQ), addresses below the building (building,
# unit, room and house numbers: the estate or road stays), and persons' names: a name before a title or
# form of address (张三书记, 李四同志), one introduced as a name (我叫张三，), and jieba's person names
# (POS nr) with a common surname where that is reliable (mask_names). A name becomes its surname + 某.
_USER_ID = re.compile(r"(?:网友)?[“\"]?(?<![A-Za-z0-9])(?:UU|A)\d{5,}(?![0-9])[”\"]?")
_ID_NUMBER = re.compile(r"(?<!\d)\d{6}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:[0-2]\d|3[01])\d{3}[\dXx](?![\dA-Za-z])")
_PLATE = re.compile(
    r"[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-Z]\s?[·•]?\s?[A-HJ-NP-Z0-9]{5,6}(?![A-Za-z0-9])"
)
_LONG_DIGITS = re.compile(
    r"(?<![\d*])\d{7,}(?![\d*]|\s?(?:元|万|亿|平方|平米|米|亩|吨|人|户|个|件|次|辆|份|台|套|股|年))"
)
_BUILDING = re.compile(
    r"(?:\d+|[一二三四五六七八九十]+|[A-Za-z]\d*)\s?(?:栋|幢|号楼|单元)(?:\s?\d+(?:-\d+)?\s?(?:单元|楼|层|室|房|号|户)?)?"
    r"|[A-Za-z]\d*\s?座|\d+\s?[#＃]\s?(?:楼|栋)?\d*"
    r"|\d{3,4}\s?(?:室|房|号房)|(?<=[路街巷道里弄])\d+(?:-\d+)?号"
)
_TITLED_NAME = re.compile(
    r"(?P<name>[\u4e00-\u9fa5]{2,3}?)(?=(?:同志|先生|女士|书记|副书记|县长|副县长|市长|副市长|区长|副区长|镇长|"
    r"乡长|主任|副主任|局长|副局长|所长|站长|队长|经理|老师|校长|院长|医生|警官|律师|组长|村长|支书|会计))"
)
# a name introduced as one: 我叫张三， 名叫李四（ 姓名：王五
_INTRODUCED_NAME = re.compile(
    r"(?P<intro>名叫|我叫|姓名[:：]?|联系人[:：]?|本人)(?P<name>[\u4e00-\u9fa5]{2,3})(?=[，,。；;、\s（(：:]|$)"
)
SURNAMES = set(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
    "沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔"
    "向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌"
    "毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦"
    "麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩"
    "明佘池查麻苑迟邝"
)
# the last character of a body or post before a title (党委书记, 常务副县长), never of a name
_OFFICE_ENDINGS = set("委务部府室会局处科区县市镇乡村组队站所院校级副正总长记任办司厅学")
_NOT_IN_NAMES = re.compile(r"[除的和与及是在对向给将把被由从为了妇员业主们]")
_PLACE_CHARS = "村路镇乡街区县市苑园桥山河湾塘港坪冲岭庄城府湖江洲坡郡组巷里厂"
_PLACE_AFTER = re.compile(
    rf"^(?:[{_PLACE_CHARS}]|中路|水库|驾校|餐饮|科技|幼儿园|小学|中学|学校|医院|公园|广场|大厦|酒店|宾馆|超市|市场|集团"
    r"|有限|物业|置业|地产|大道|社区|小区|花园|公司)"
)
_PERSON_BEFORE = re.compile(r"(?:叫|本人|业主|村民|居民|工作人员|负责人|联系人|经办人|户主|老人|儿子|女儿|丈夫|妻子|母亲|父亲|同学|师傅|患者|学生|网友|职工|员工)$")
# words jieba may tag nr that are no person's name in these texts
NOT_NAMES = {"谢谢", "查一查", "高度重视", "高新区", "马路", "文明", "方便", "黄花", "金额", "江边", "林业", "石材", "白天", "明天"}


def _surname_mask(name: str) -> str:
    return name[0] + "某"


def _introduced(match: re.Match[str]) -> str:
    name = match["name"]
    if name[0] in SURNAMES and not _NOT_IN_NAMES.search(name[1:]):
        return match["intro"] + _surname_mask(name)
    return match.group(0)


def _titled(match: re.Match[str]) -> str:
    name = match["name"]
    if name[0] in SURNAMES and name[-1] not in _OFFICE_ENDINGS and not _NOT_IN_NAMES.search(name[1:]):
        return _surname_mask(name)
    return name


def mask_names(text: str) -> str:
    """Persons' names -> 张某: a name before a title (书记, 同志, ...); a jieba person name (POS nr) with a
    common surname that is 3 characters long and no dictionary word, or 2 characters long right after a
    word that introduces a person (本人, 业主, 工作人员, ...); never one followed by a place suffix."""
    import jieba
    import jieba.posseg as pseg  # loaded on first use (the web app does not need it)

    text = _TITLED_NAME.sub(_titled, text)
    text = _INTRODUCED_NAME.sub(_introduced, text)
    words = pseg.lcut(text, HMM=True)
    out = []
    for i, (word, flag) in enumerate(words):
        after = words[i + 1].word if i + 1 < len(words) else ""
        before = words[i - 1].word if i else ""
        if (
            flag == "nr"
            and word[0] in SURNAMES
            and word not in NOT_NAMES
            and word[-1] not in _PLACE_CHARS
            and not _NOT_IN_NAMES.search(word[1:])
            and not _PLACE_AFTER.match(after)
            and (
                (len(word) == 3 and word not in jieba.dt.FREQ)
                or (len(word) == 2 and _PERSON_BEFORE.search(before))
            )
        ):
            out.append(_surname_mask(word))
        else:
            out.append(word)
    return "".join(out)


def _stars(match: re.Match[str]) -> str:
    return re.sub(r"[0-9A-Za-z一二三四五六七八九十两]", "*", match.group(0))


def mask_personal_text(text: str) -> str:
    """Free text with personal data masked (the rules above), for public views of citizens' words."""
    text = _USER_ID.sub("网友", text)
    text = _ID_NUMBER.sub(lambda m: m.group(0)[:6] + "*" * 12, text)
    text = mask_phones_in_text(text)
    text = _PLATE.sub(lambda m: m.group(0)[:2] + "*****", text)
    text = _LONG_DIGITS.sub(lambda m: "*" * len(m.group(0)), text)
    text = _BUILDING.sub(_stars, text)
    return mask_names(text)
