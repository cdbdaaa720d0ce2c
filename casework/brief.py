"""The daily brief (每日要情): the day's cases by category, department and district, on-time completion,
satisfaction, overdue and supervised cases, the day's 批示 with how far the departments have carried
them out, and hot topics (the day's cases clustered over their text, labelled by their top terms:
casework.hottopics). Rendered as a self-contained HTML page and as a PDF (reportlab, embedded CJK font)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.calendar import LOCAL_TZ
from casework.hottopics import HotTopic, hot_topics
from casework.lifecycle import DONE_STATUSES
from casework.models import Case, CaseEvent, Department, Instruction
from casework.queries import count_overdue, overdue_cases
from hotline.db import utcnow
from hotline.masking import mask_phones_in_text

LISTED = 50  # overdue and supervised cases listed at most (the overdue count is the whole number)


@dataclass
class CaseLine:
    case_number: str
    category: str
    department: str
    topic: str
    deadline: str
    status_label: str


@dataclass
class InstructionLine:
    """A 批示 issued that day: who wrote it on which case, and where the department stands."""

    case_number: str
    department: str
    text: str
    issued_by: str
    state: str  # 待确认 / 已确认 / the department's latest report (落实情况)


@dataclass
class ImportantLine:
    """A case the compiler chose for the brief (报要情), with the reason it was marked."""

    case_number: str
    department: str
    topic: str
    status_label: str
    reason: str
    marked_by: str


@dataclass
class Header:
    """The brief as a document: its number (期号), issuing unit, summary, and whether it was issued."""

    number: int | None
    issuer: str
    summary: str = ""
    compiled_by: str = ""
    issued: bool = False


@dataclass
class DailyBrief:
    day: date
    total: int
    by_category: list[tuple[str, int]]
    by_department: list[tuple[str, int]]
    by_district: list[tuple[str, int]]
    by_channel: list[tuple[str, int]]
    completed: int
    on_time: int
    on_time_rate: float | None
    satisfaction: dict[str, int]
    satisfaction_rate: float | None
    overdue: list[CaseLine]  # the most overdue (LISTED of them)
    supervised: list[CaseLine]
    hot_topics: list[HotTopic]
    instructions: list[InstructionLine] = field(default_factory=list)
    header: Header = field(default_factory=lambda: Header(None, ""))
    important: list[ImportantLine] = field(default_factory=list)
    overdue_total: int = 0  # all open cases past their deadline at the end of the day
    previous_total: int = 0  # the day before
    week_ago_total: int = 0  # the same weekday a week before
    generated_at: datetime = field(default_factory=utcnow)

    @property
    def day_on_day(self) -> int:
        return self.total - self.previous_total

    @property
    def week_on_week(self) -> int:
        return self.total - self.week_ago_total


def _line(case: Case) -> CaseLine:
    deadline = case.deadline
    return CaseLine(
        case_number=case.case_number,
        category=case.category,
        department=case.department.name if case.department else "（未转派）",
        topic=mask_phones_in_text(case.topic or case.content[:40]),
        deadline=deadline.astimezone(LOCAL_TZ).strftime("%Y-%m-%d") if deadline else "",
        status_label=case.status_label,
    )


def _bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), LOCAL_TZ).astimezone(UTC)
    return start, start + timedelta(days=1)


def _count(session: Session, day: date) -> int:
    start, end = _bounds(day)
    return (
        session.scalar(select(func.count(Case.id)).where(Case.created_at >= start, Case.created_at < end))
        or 0
    )


def daily_brief(session: Session, day: date) -> DailyBrief:
    """Figures for one (Beijing-time) day's cases, with the compiled issue of that day (number, summary,
    the chosen marked cases) when there is one. A day that has not begun has no brief (CaseError)."""
    from casework import briefissues

    briefissues.check_day(day)
    start, end = _bounds(day)
    cases = list(session.scalars(select(Case).where(Case.created_at >= start, Case.created_at < end)))
    names: dict[int | None, str] = {d.id: d.name for d in session.scalars(select(Department))}
    done = [c for c in cases if c.status in DONE_STATUSES]
    on_time = sum(
        1 for c in done if c.deadline is not None and (c.replied_at or c.closed_at or end) <= c.deadline
    )
    end_of_day = min(end, utcnow())
    # on time among the day's cases whose outcome is known: finished, or still open past their deadline
    late_open = sum(
        1
        for c in cases
        if c.status not in DONE_STATUSES and c.deadline is not None and c.deadline < end_of_day
    )
    satisfaction = Counter(c.satisfaction for c in cases if c.satisfaction)
    rated = sum(satisfaction.values())
    supervised_today = select(CaseEvent.case_id).where(
        CaseEvent.action == "supervised", CaseEvent.at >= start, CaseEvent.at < end
    )
    supervised = session.scalars(
        select(Case).where(Case.id.in_(supervised_today)).order_by(Case.deadline).limit(LISTED)
    )
    issue = briefissues.issue_of(session, day)
    chosen = {m.case_id: m for m in briefissues.marks(session, day)}
    important = [chosen[i] for i in (issue.case_ids if issue else []) if i in chosen]
    instructions = session.execute(
        select(Instruction, Case)
        .join(Case, Case.id == Instruction.case_id)
        .where(Instruction.issued_at >= start, Instruction.issued_at < end)
        .order_by(Instruction.id)
        .limit(100)
    ).all()
    return DailyBrief(
        day=day,
        total=len(cases),
        by_category=Counter(c.category for c in cases).most_common(),
        by_department=Counter(names.get(c.department_id, "（未转派）") for c in cases).most_common(15),
        by_district=Counter(c.district or "（未填写）" for c in cases).most_common(15),
        by_channel=Counter(c.channel for c in cases).most_common(),
        completed=len(done),
        on_time=on_time,
        on_time_rate=round(on_time / (len(done) + late_open), 4) if done or late_open else None,
        satisfaction=dict(satisfaction),
        satisfaction_rate=round((satisfaction["满意"] + satisfaction["基本满意"]) / rated, 4)
        if rated
        else None,
        overdue=[_line(c) for c in overdue_cases(session, now=end_of_day, limit=LISTED)],
        overdue_total=count_overdue(session, now=end_of_day),
        supervised=[_line(c) for c in supervised],
        hot_topics=hot_topics({c.case_number: f"{c.topic} {c.content[:300]}" for c in cases}),
        instructions=[
            InstructionLine(
                case.case_number,
                names.get(case.department_id, "（未转派）"),
                row.text,
                row.issued_by,
                row.response or ("已确认" if row.acknowledged_at else "待确认"),
            )
            for row, case in instructions
        ],
        header=briefissues.header(session, day, issue),
        important=[
            ImportantLine(
                m.case.case_number,
                names.get(m.case.department_id, "（未转派）"),
                mask_phones_in_text(m.case.topic or m.case.content[:40]),
                m.case.status_label,
                m.reason,
                m.marked_by,
            )
            for m in important
        ],
        previous_total=_count(session, day - timedelta(days=1)),
        week_ago_total=_count(session, day - timedelta(days=7)),
    )


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
_env.filters["percent"] = percent
HTML = _env.from_string(
    """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>每日要情 {{ b.day }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Noto Sans SC",sans-serif;max-width:960px;margin:2em auto;color:#222}
h1{border-bottom:3px solid #b00;padding-bottom:.3em} h2{color:#b00;margin-top:1.6em}
table{border-collapse:collapse;width:100%} th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left}
.kpis{display:flex;gap:1em;flex-wrap:wrap} .kpi{border:1px solid #ddd;padding:.6em 1em;min-width:8em}
.kpi b{display:block;font-size:1.6em} .issue{color:#b00;font-weight:bold;margin:0}
.meta span{margin-right:1.5em} .date,td{white-space:nowrap} td:nth-child(4){white-space:normal} .draft{color:#b00}
</style></head><body>
<p class="issue">{% if b.header.number %}第{{ b.header.number }}期{% else %}（未编期号）{% endif %}</p>
<h1>每日要情</h1>
<p class="meta"><span>{{ b.header.issuer }}</span> <span class="date">{{ b.day.year }}年{{ b.day.month }}月{{ b.day.day }}日</span>{% if b.header.compiled_by %} <span>编发：{{ b.header.compiled_by }}</span>{% endif %}{% if not b.header.issued %} <span class="draft">（未编发）</span>{% endif %}</p>
{% if b.header.summary %}<h2>本期摘要</h2><p class="summary">{{ b.header.summary }}</p>{% endif %}
<div class="kpis">
<div class="kpi"><b>{{ b.total }}</b>受理工单<br><small>较前一日 {{ "%+d"|format(b.day_on_day) }}，较上周同日 {{ "%+d"|format(b.week_on_week) }}</small></div>
<div class="kpi"><b>{{ b.completed }}</b>已办结</div>
<div class="kpi"><b>{{ b.on_time_rate|percent }}</b>按时办结率</div>
<div class="kpi"><b>{{ b.satisfaction_rate|percent }}</b>满意率</div>
<div class="kpi"><b>{{ b.overdue_total }}</b>超期工单</div>
</div>
<h2>重要事项</h2>
{% if b.important %}<ol class="important">{% for c in b.important %}<li><b>{{ c.topic }}</b>（{{ c.case_number }}，{{ c.department }}，{{ c.status_label }}）<br>{{ c.reason }}</li>{% endfor %}</ol>
{% else %}<p>本期未编入报要情工单。</p>{% endif %}
<h2>一、热点问题</h2>
{% if b.hot_topics %}<ol>{% for t in b.hot_topics %}<li>{{ t.keywords|join('、') }}（{{ t.count }}件）</li>{% endfor %}</ol>
{% else %}<p>无集中反映的问题。</p>{% endif %}
{% for title, rows in [("二、诉求类别", b.by_category), ("三、承办部门", b.by_department), ("四、所属区域", b.by_district)] %}
<h2>{{ title }}</h2><table><tr><th>名称</th><th>件数</th></tr>
{% for name, n in rows %}<tr><td>{{ name }}</td><td>{{ n }}</td></tr>{% else %}<tr><td colspan="2">无</td></tr>{% endfor %}
</table>{% endfor %}
<h2>五、满意度</h2><p>{% for k, v in b.satisfaction.items() %}{{ k }} {{ v }} 件；{% else %}当日暂无回访结果。{% endfor %}</p>
{% for title, rows in [("六、超期工单", b.overdue), ("七、督办工单", b.supervised)] %}
<h2>{{ title }}{% if title == "七、督办工单" %}（当日督办）{% elif b.overdue_total > rows|length %}（共{{ b.overdue_total }}件，列出超期最久的{{ rows|length }}件）{% endif %}</h2><table><tr><th>工单编号</th><th>类别</th><th>承办单位</th><th>事项</th><th>期限</th><th>状态</th></tr>
{% for c in rows %}<tr><td>{{ c.case_number }}</td><td>{{ c.category }}</td><td>{{ c.department }}</td><td>{{ c.topic }}</td><td>{{ c.deadline }}</td><td>{{ c.status_label }}</td></tr>
{% else %}<tr><td colspan="6">无</td></tr>{% endfor %}</table>{% endfor %}
<h2>八、领导批示</h2><table><tr><th>工单编号</th><th>承办单位</th><th>批示</th><th>批示人</th><th>落实情况</th></tr>
{% for i in b.instructions %}<tr><td>{{ i.case_number }}</td><td>{{ i.department }}</td><td>{{ i.text }}</td><td>{{ i.issued_by }}</td><td>{{ i.state }}</td></tr>
{% else %}<tr><td colspan="5">当日无批示</td></tr>{% endfor %}</table>
</body></html>
"""
)


def render_daily_brief_html(brief: DailyBrief) -> str:
    """A complete HTML document; all case text is escaped."""
    return HTML.render(b=brief)


FONT_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",)  # TrueType outlines, Latin + CJK


def _pdf_font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFont

    if "BriefCJK" in pdfmetrics.getRegisteredFontNames():
        return "BriefCJK"
    for path in FONT_FILES:
        if Path(path).exists():
            pdfmetrics.registerFont(TTFont("BriefCJK", path, subfontIndex=0))
            return "BriefCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))  # not embedded: viewer supplies the font
    return "STSong-Light"


def render_daily_brief_pdf(brief: DailyBrief, path: Path | str) -> Path:
    """Write the brief as an A4 PDF with an embedded CJK font."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.lib.utils import simpleSplit  # noqa: F401 - keeps reportlab's CJK wrapping available
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    font = _pdf_font()
    title = ParagraphStyle("t", fontName=font, fontSize=18, leading=26, spaceAfter=8, wordWrap="CJK")
    head = ParagraphStyle(
        "h", fontName=font, fontSize=13, leading=20, spaceBefore=10, textColor=colors.darkred
    )
    text = ParagraphStyle("p", fontName=font, fontSize=10, leading=15, wordWrap="CJK")

    def esc(value: object) -> str:
        return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def table(header: list[str], rows: Sequence[Sequence[object]], widths: list[float]) -> Table:
        data = [[Paragraph(esc(h), text) for h in header]]
        data += [[Paragraph(esc(v), text) for v in row] for row in rows] or [
            [Paragraph("无", text)] + [""] * (len(header) - 1)
        ]
        t = Table(data, colWidths=[w * mm for w in widths], repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    b = brief
    number = f"第{b.header.number}期" if b.header.number else "（未编期号）"
    dated = f"{b.day.year}年{b.day.month}月{b.day.day}日"
    story = [
        Paragraph(esc(number), head),
        Paragraph("每日要情", title),
        Paragraph(esc(f"{b.header.issuer}　　{dated}" + ("" if b.header.issued else "　（未编发）")), text),
    ]
    if b.header.summary:
        story += [Paragraph("本期摘要", head), Paragraph(esc(b.header.summary), text)]
    story += [
        Paragraph(
            f"受理工单 {b.total} 件（较前一日 {b.day_on_day:+d}，较上周同日 {b.week_on_week:+d}），已办结 {b.completed} 件，"
            f"按时办结率 {percent(b.on_time_rate)}，满意率 {percent(b.satisfaction_rate)}，"
            f"超期工单 {b.overdue_total} 件，当日督办 {len(b.supervised)} 件。",
            text,
        ),
        Paragraph("重要事项", head),
    ]
    if b.important:
        story += [
            Paragraph(
                f"{i}. {esc(c.topic)}（{esc(c.case_number)}，{esc(c.department)}，{esc(c.status_label)}）：{esc(c.reason)}",
                text,
            )
            for i, c in enumerate(b.important, 1)
        ]
    else:
        story.append(Paragraph("本期未编入报要情工单。", text))
    story.append(Paragraph("一、热点问题", head))
    if b.hot_topics:
        story += [
            Paragraph(f"{i}. {esc('、'.join(t.keywords))}（{t.count}件）", text)
            for i, t in enumerate(b.hot_topics, 1)
        ]
    else:
        story.append(Paragraph("无集中反映的问题。", text))
    for name, rows in (
        ("二、诉求类别", b.by_category),
        ("三、承办部门", b.by_department),
        ("四、所属区域", b.by_district),
    ):
        story += [Paragraph(name, head), table(["名称", "件数"], rows, [120, 30])]
    sat = "；".join(f"{k} {v} 件" for k, v in b.satisfaction.items()) or "当日暂无回访结果。"
    story += [Paragraph("五、满意度", head), Paragraph(esc(sat), text)]
    overdue_title = "六、超期工单" + (
        f"（共{b.overdue_total}件，列出超期最久的{len(b.overdue)}件）"
        if b.overdue_total > len(b.overdue)
        else ""
    )
    for name, lines in ((overdue_title, b.overdue), ("七、督办工单", b.supervised)):
        cells = [
            [c.case_number, c.category, c.department, c.topic, c.deadline, c.status_label] for c in lines
        ]
        story += [
            Paragraph(name, head),
            table(["工单编号", "类别", "承办单位", "事项", "期限", "状态"], cells, [30, 12, 34, 52, 26, 18]),
        ]
    cells = [[i.case_number, i.department, i.text, i.issued_by, i.state] for i in b.instructions]
    story += [
        Paragraph("八、领导批示", head),
        table(["工单编号", "承办单位", "批示", "批示人", "落实情况"], cells, [30, 36, 56, 20, 40]),
    ]
    story.append(Spacer(1, 6 * mm))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(path), pagesize=A4, title=f"每日要情 {number} {b.day}", author=b.header.issuer,
        subject="每日要情", lang="zh-CN", leftMargin=14 * mm, rightMargin=14 * mm,
    )  # fmt: skip

    def page_number(canvas: Any, document: Any) -> None:  # every page: "第 N 页" at the foot
        canvas.saveState()
        canvas.setFont(font, 9)
        canvas.drawCentredString(A4[0] / 2, 8 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    doc.build(story, onFirstPage=page_number, onLaterPages=page_number)
    return path
