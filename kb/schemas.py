"""Data passed in and out of the knowledge base's public API."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, field_validator
from pydantic_core import PydanticCustomError

from hotline.config import get_settings
from hotline.text import contains_control

CATEGORIES = ("政策法规", "办事指南", "常见问题", "通知公告", "典型案例", "新闻动态")
Category = Literal["政策法规", "办事指南", "常见问题", "通知公告", "典型案例", "新闻动态"]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=128)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=512)]
MAX_QUESTION = 1000
MAX_KEYWORDS = 50
MAX_KEYWORD = 32
# C0 and C1 control characters (an ANSI escape sequence starts with ESC), line breaks and tabs included:
# a title is one line of plain text
TITLE_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

FIELD_LABELS = {
    "external_id": "编号",
    "title": "标题",
    "category": "分类",
    "department": "部门",
    "keywords": "关键词",
    "question": "问题",
    "answer": "答案",
    "body": "正文",
    "source_url": "来源链接",
    "published_at": "发布日期",
    "valid_until": "有效期至",
    "review_due": "复核日期",
}
CONTENT_FIELDS = tuple(f for f in FIELD_LABELS if f != "external_id")


class DocumentInput(BaseModel):
    """The editable content of a document, validated."""

    model_config = ConfigDict(extra="ignore")

    title: Title
    category: Category
    body: Body
    department: ShortText | None = None
    keywords: list[str] = []
    question: str | None = None
    answer: str | None = None
    source_url: Url | None = None
    published_at: date | None = None
    valid_until: date | None = None
    review_due: date | None = None

    @field_validator("keywords", mode="before")
    @classmethod
    def _keywords(cls, value: object) -> object:
        if value is None:
            return []
        if isinstance(value, str):
            value = value.replace("，", ",").split(",")
        if isinstance(value, list | tuple):
            return [str(w).strip() for w in value if str(w).strip()]
        return value

    @field_validator("department", "question", "answer", "source_url", mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value.strip() if isinstance(value, str) else value

    @field_validator("title")
    @classmethod
    def _one_plain_line(cls, value: str) -> str:
        if TITLE_CONTROL.search(value):
            raise PydanticCustomError("control_characters", "标题不能包含换行、制表符或其他控制字符")
        return value

    @field_validator("body", "answer")
    @classmethod
    def _text_size(cls, value: str | None) -> str | None:
        return _at_most(value, get_settings().kb_max_text_chars)

    @field_validator("question")
    @classmethod
    def _question_size(cls, value: str | None) -> str | None:
        return _at_most(value, MAX_QUESTION)

    @field_validator("keywords")
    @classmethod
    def _keywords_size(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_KEYWORDS:
            raise PydanticCustomError("too_long", "最多 {max_length} 个", {"max_length": MAX_KEYWORDS})
        for word in value:
            _at_most(word, MAX_KEYWORD)
        return value

    @field_validator("body", "answer", "question", "department", "source_url", "keywords")
    @classmethod
    def _no_control(cls, value: object) -> object:
        """NUL and other control characters (hotline.text) in any text field: PostgreSQL refused NUL
        and failed the whole import batch."""
        if contains_control(value):
            raise PydanticCustomError("text_control", "含有不可见的控制字符（如 NUL）")
        return value


def _at_most(value: str | None, limit: int) -> str | None:
    """The size limits of a document's fields (docs/security.md): a pydantic string_too_long error."""
    if value is not None and len(value) > limit:
        raise PydanticCustomError(
            "string_too_long", "最多 {max_length} 字（现有 {length} 字）", {"max_length": limit, "length": len(value)}
        )
    return value


def explain(exc: ValidationError) -> str:
    """A short Chinese reason for a DocumentInput validation error."""
    reasons = []
    for err in exc.errors():
        name = str(err["loc"][0]) if err.get("loc") else ""
        label = FIELD_LABELS.get(name, name or "内容")
        kind = err.get("type", "")
        if kind in {"missing", "string_too_short"}:
            reasons.append(f"{label}不能为空")
        elif kind == "string_too_long":
            limit = (err.get("ctx") or {}).get("max_length")
            reasons.append(f"{label}过长（最多 {limit} 字）")
        elif kind == "too_long":
            reasons.append(f"{label}过多（{err['msg']}）")
        elif kind == "control_characters":
            reasons.append(f"{label}不能包含换行、制表符或其他控制字符")
        elif kind == "text_control":
            reasons.append(f"{label}含有不可见的控制字符（如 NUL）")
        elif kind == "literal_error":
            reasons.append(f"{label}必须是 {'、'.join(CATEGORIES)} 之一")
        elif kind.startswith("date"):
            reasons.append(f"{label}应为 YYYY-MM-DD 格式的日期")
        else:
            reasons.append(f"{label}格式有误")
    return "；".join(reasons)


@dataclass(frozen=True)
class DocumentView:
    """A document as readers (or, with include_unpublished, editors) see it."""

    id: int
    external_id: str
    title: str
    category: str
    department: str | None
    body: str
    question: str | None
    answer: str | None
    keywords: list[str]
    source_url: str | None
    published_at: date | None
    valid_until: date | None
    status: str
    sections: list[str] = field(default_factory=list)
    review_due: date | None = None
    views: int = 0
    helpful_count: int = 0
    unhelpful_count: int = 0


@dataclass(frozen=True)
class SearchHit:
    id: int
    external_id: str
    title: str
    category: str
    department: str | None
    score: float
    snippet: str
    title_html: str = ""
    relevance: float = 0.0  # 0..1, kb.search.relevance
    answered: bool = False  # presented as an answer: relevance above the learned threshold


@dataclass(frozen=True)
class SearchResults:
    query: str
    total: int
    hits: list[SearchHit]
    suggestion: str | None = None

    @property
    def answered(self) -> bool:
        """Whether some hit answers the query (else the page says "没有找到直接回答")."""
        return any(h.answered for h in self.hits)
