"""Fax: text rendered to TIFF Class F (G4, 204x196 dpi, A4, one page per sheet) with a CJK font,
then handed to HylaFAX `sendfax` when configured, or left in the spool directory outbox/fax."""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from casework.models import OutboxMessage
from hotline.config import Settings

DPI = (204, 196)
PAGE = (1728, 2292)  # fax line width x A4 height at 196 lpi
MARGIN = (110, 140)
FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
)


class FaxError(RuntimeError):
    pass


def _font(size: int) -> ImageFont.FreeTypeFont:
    for path in FONT_CANDIDATES:
        if Path(path).exists():
            return ImageFont.truetype(path, size, index=2)  # 2 = Simplified Chinese face in the collection
    raise FaxError("no CJK font found (install fonts-noto-cjk)")


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for char in paragraph:
            if font.getlength(line + char) > width:
                lines.append(line)
                line = char
            else:
                line += char
        lines.append(line)
    return lines


def render_tiff(title: str, body: str, path: Path) -> int:
    """Write a multi-page G4 TIFF; returns the number of pages."""
    title_font, body_font = _font(56), _font(38)
    width = PAGE[0] - 2 * MARGIN[0]
    line_height = 58
    per_page = (PAGE[1] - 2 * MARGIN[1] - 120) // line_height
    lines = _wrap(body, body_font, width)
    chunks = [lines[i : i + per_page] for i in range(0, len(lines), per_page)] or [[]]
    pages = []
    for number, chunk in enumerate(chunks, 1):
        page = Image.new("1", PAGE, 1)
        draw = ImageDraw.Draw(page)
        y = MARGIN[1]
        if number == 1:
            draw.text((MARGIN[0], y), title, font=title_font, fill=0)
        footer = f"{title[:30]}  第{number}页/共{len(chunks)}页"
        draw.text((MARGIN[0], PAGE[1] - MARGIN[1] + 30), footer, font=_font(28), fill=0)
        y += 120
        for line in chunk:
            draw.text((MARGIN[0], y), line, font=body_font, fill=0)
            y += line_height
        pages.append(page)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.tif")
    pages[0].save(tmp, save_all=True, append_images=pages[1:], compression="group4", dpi=DPI)
    tmp.replace(path)
    return len(pages)


@dataclass
class FaxTransport:
    """Spools `<message_id>.tif` (+ .json) into `spool_dir`; with `command` (e.g. "sendfax -n") it
    also submits the file to HylaFAX. A message id already spooled is not sent again."""

    spool_dir: Path
    command: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> FaxTransport:
        return cls(spool_dir=Path(settings.outbox_dir) / "fax", command=settings.fax_command)

    def send(self, message: OutboxMessage) -> None:
        tiff = self.spool_dir / f"{message.message_id}.tif"
        meta = tiff.with_suffix(".json")
        if meta.exists():
            return  # delivered before (crash between delivery and marking it sent)
        pages = render_tiff(message.title or "12345热线", message.body, tiff)
        if self.command:
            argv = [*shlex.split(self.command), "-d", message.to, str(tiff)]
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
            if done.returncode != 0:
                raise FaxError(f"sendfax failed ({done.returncode}): {done.stderr.strip()[:300]}")
        info = {"message_id": message.message_id, "to": message.to, "title": message.title, "pages": pages}
        meta.write_text(json.dumps(info, ensure_ascii=False))
