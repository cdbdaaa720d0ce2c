#!/usr/bin/env python3
"""Vendor the speech model and test recordings from ../shared into the repo's data/.

Copies the sherpa-onnx 3.3M pinyin zipformer (Apache-2.0) into data/models/ and the real Mandarin
recordings with their transcripts into data/speech/, then builds the pinyin lexicon that turns the
recogniser's pinyin back into Chinese words (menu words, the words of the KB titles in data/kb/ when
present, and the most frequent words of jieba's dictionary).
Run once from the repo root; the outputs are committed so a fresh clone works offline.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
MODEL_SRC = SHARED / "models" / "sherpa-onnx-kws-zipformer-wenetspeech-3.3M-2024-01-01-mobile"
MODEL_DST = REPO / "data" / "models" / "sherpa-zipformer-pinyin-3.3M"
MODEL_FILES = {
    "encoder-epoch-12-avg-2-chunk-16-left-64.int8.onnx": "encoder.int8.onnx",
    "decoder-epoch-12-avg-2-chunk-16-left-64.onnx": "decoder.onnx",
    "joiner-epoch-12-avg-2-chunk-16-left-64.int8.onnx": "joiner.int8.onnx",
    "tokens.txt": "tokens.txt",
    "README.md": "README.md",
}
SPEECH_SRC = SHARED / "data" / "speech"
SPEECH_DST = REPO / "data" / "speech"
LEXICON_WORDS = 60000


def copy_model() -> None:
    MODEL_DST.mkdir(parents=True, exist_ok=True)
    for src, dst in MODEL_FILES.items():
        shutil.copyfile(MODEL_SRC / src, MODEL_DST / dst)
    (MODEL_DST / "SOURCE.txt").write_text(
        "sherpa-onnx-kws-zipformer-wenetspeech-3.3M-2024-01-01 (mobile export), Apache-2.0.\n"
        "Streaming zipformer transducer trained on WenetSpeech; output units: pinyin initials/finals.\n"
        "Copied by scripts/build_speech_data.py; files renamed, content unchanged.\n"
    )


def copy_recordings() -> None:
    SPEECH_DST.mkdir(parents=True, exist_ok=True)
    for path in sorted(SPEECH_SRC.iterdir()):
        if path.suffix in {".wav", ".tsv"}:
            shutil.copyfile(path, SPEECH_DST / path.name)
    readme = SPEECH_SRC / "README.md"
    if readme.exists():
        shutil.copyfile(readme, SPEECH_DST / "README.md")


def build_lexicon() -> None:
    """Write word<TAB>frequency<TAB>toneless pinyin for the pinyin-to-text decoder."""
    import jieba
    from pypinyin import Style, lazy_pinyin

    from speech.lexicon import MENU_WORDS

    dict_path = Path(jieba.__file__).parent / "dict.txt"
    entries: list[tuple[str, int]] = []
    for line in dict_path.read_text(encoding="utf-8").splitlines():
        word, freq, *_ = line.split(" ")
        if all("\u4e00" <= ch <= "\u9fff" for ch in word):
            entries.append((word, int(freq)))
    entries.sort(key=lambda item: -item[1])
    chosen = dict(entries[:LEXICON_WORDS])
    for word, count in kb_vocabulary().items():
        chosen[word] = chosen.get(word, 0) + 2000 * count
    for word in MENU_WORDS:
        chosen[word] = max(chosen.get(word, 0), 50000)
    lines = []
    for word, freq in sorted(chosen.items(), key=lambda item: -item[1]):
        syllables = lazy_pinyin(word, style=Style.NORMAL, errors="ignore")
        if len(syllables) == len(word):
            lines.append(f"{word}\t{freq}\t{' '.join(syllables)}")
    (MODEL_DST / "lexicon.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def kb_vocabulary() -> dict[str, int]:
    """Words of the knowledge base's titles and keywords (data/kb/*.jsonl), so renderings favour KB terms."""
    import json
    from collections import Counter

    import jieba

    counts: Counter[str] = Counter()
    for path in sorted((REPO / "data" / "kb").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            doc = json.loads(line)
            words = jieba.lcut(doc.get("title", "")) + list(doc.get("keywords") or [])
            counts.update(w for w in words if len(w) >= 2 and all("\u4e00" <= ch <= "\u9fff" for ch in w))
    return dict(counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lexicon-only", action="store_true", help="Only rebuild data/models/.../lexicon.tsv"
    )
    args = parser.parse_args()
    if not args.lexicon_only:
        copy_model()
        copy_recordings()
    build_lexicon()
    print(f"speech data ready: {MODEL_DST.relative_to(REPO)}, {SPEECH_DST.relative_to(REPO)}")


if __name__ == "__main__":
    main()
