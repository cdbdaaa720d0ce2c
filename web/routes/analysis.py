"""The leaders' statistics page (统计分析): a period's cases by day, hour, category, district and channel,
each department's on-time and satisfaction ranking, every figure linked to the cases behind it, and the
whole page as an Excel workbook."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from casework import stats
from hotline.db import utcnow
from web.routes.caselists import XLSX
from web.routes.supervisor import Supervisor, today
from web.security import SessionDep
from web.templating import render

router = APIRouter(prefix="/supervisor")
PERIODS = {7: "近7日", 30: "近30日", 90: "近90日"}
RANKING_COLUMNS = ["排名", "承办部门", "受理", "办结", "按时办结", "按时办结率", "评价数", "满意率", "不满意重办", "超期未办结"]  # fmt: skip


def _period(days: int) -> stats.Period:
    return stats.Period.ending(today(), days if days in PERIODS else 30)


def cases_link(filters: dict[str, str]) -> str:
    """The supervisor's case list narrowed to these filters (the drill-down of a figure)."""
    return "/supervisor/cases?" + urlencode(filters)


def _bars(rows: list[stats.Row]) -> list[dict[str, Any]]:
    top = max((r.value for r in rows), default=0) or 1
    return [
        {
            "label": r.label,
            "value": r.value,
            "width": round(100 * r.value / top),
            "href": cases_link(r.filter),
        }
        for r in rows
    ]


@router.get("/analysis")
def analysis(request: Request, db: SessionDep, user: Supervisor, days: int = 30) -> Response:
    figures = stats.dashboard(db, _period(days))
    period = figures.period
    charts = {key: _bars(figures.chart(key)) for key in stats.Dashboard.CHARTS}
    ctx = {
        "figures": figures,
        "charts": charts,
        "days": days if days in PERIODS else 30,
        "periods": PERIODS,
        "period_link": cases_link(period.filter()),
        "department_link": lambda f: cases_link({**period.filter(), "department": str(f.department_id)}),
    }
    return render(request, "supervisor/analysis.html", ctx)


@router.get("/analysis.xlsx")
def analysis_export(db: SessionDep, user: Supervisor, days: int = 30) -> Response:
    """The page's tables as a workbook: one sheet per table."""
    from openpyxl import Workbook

    period = _period(days)
    figures = stats.dashboard(db, period)
    book = Workbook(write_only=True)
    ranking = book.create_sheet("部门排名")
    ranking.append(RANKING_COLUMNS)
    for place, f in enumerate(figures.ranking, 1):
        figures_row = [f.received, f.done, f.on_time, f.on_time_rate, f.rated, f.satisfaction_rate]
        ranking.append([place, f.name, *figures_row, f.reworked, f.open_overdue])
    for key, title in stats.Dashboard.CHARTS.items():
        sheet = book.create_sheet(title)
        sheet.append([title, "工单数"])
        for row in figures.chart(key):
            sheet.append([row.label, row.value])
    out = io.BytesIO()
    book.save(out)
    name = f"analysis-{period.first:%Y%m%d}-{period.last:%Y%m%d}-{utcnow():%H%M}.xlsx"
    return Response(
        out.getvalue(), media_type=XLSX, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )
