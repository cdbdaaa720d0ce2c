#!/usr/bin/env python3
"""Write kb/search/places.txt: the place names a question can be about (province-level units and
cities), as jieba segments them: 陕西, 淮安, 南宁 ... (no 省/市 suffix; jieba's search mode yields both).

Source: jieba's own dictionary (words tagged ns ending in 市) plus the 34 province-level units.
Run again only when jieba's dictionary changes; the file is committed.
"""

from __future__ import annotations

from pathlib import Path

import jieba

PROVINCES = (
    "北京 天津 上海 重庆 河北 山西 辽宁 吉林 黑龙江 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南 广东 海南 "
    "四川 贵州 云南 陕西 甘肃 青海 台湾 内蒙古 广西 西藏 宁夏 新疆 香港 澳门"
).split()
OUT = Path(__file__).resolve().parent.parent / "kb" / "search" / "places.txt"


def main() -> None:
    dictionary = Path(jieba.__file__).with_name("dict.txt")
    cities = set()
    for line in dictionary.read_text(encoding="utf-8").splitlines():
        word, _, tag = line.split()
        if tag == "ns" and word.endswith("市") and len(word) >= 3:
            cities.add(word[:-1])
    names = sorted(set(PROVINCES) | cities)
    OUT.write_text(
        "# 地名（省级与城市，去掉“省/市”）：由 scripts/build_places.py 生成\n" + "\n".join(names) + "\n",
        encoding="utf-8",
    )
    print(f"{OUT}: {len(names)} names")


if __name__ == "__main__":
    main()
