"""Response models of the JSON API (`response_model=` of every /api route): the OpenAPI page documents
each output, and an output is checked against its model.

The field names are the API's contract (docs/architecture.md); models mirror what the routes have always
returned. Moments and dates are ISO 8601 strings as `web.routes.public.as_dict` writes them (moments in
UTC with their offset), so these models take them as strings and only document the format.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

IsoMoment = Annotated[
    str, Field(description="ISO 8601 时间（UTC，带时区）", json_schema_extra={"format": "date-time"})
]
IsoDate = Annotated[str, Field(description="ISO 8601 日期 YYYY-MM-DD", json_schema_extra={"format": "date"})]

# the audiences, as tags of the OpenAPI document (web.app lists them in this order)
PUBLIC = "公开接口：知识库"
STAFF_KB = "工作人员接口：知识库编辑"
STAFF_SESSION = "工作人员接口：登录会话"
GATEWAY = "网关回调：短信"
STAFF_OTHER = "工作人员接口：其他"  # routes that name no audience (web.apidocs tags them so)
TAGS: list[dict[str, Any]] = [
    {"name": PUBLIC, "description": "市民和第三方可匿名调用的只读接口（检索、联想、文档、意见反馈）。"},
    {
        "name": STAFF_KB,
        "description": "知识库编辑、审核人员的接口：需登录（会话 Cookie）并具备 editor 或 reviewer 角色；"
        "写操作需带 X-CSRF-Token（见 /api/session）。",
    },
    {"name": STAFF_SESSION, "description": "当前会话：CSRF 令牌与登录用户。"},
    {"name": GATEWAY, "description": "短信网关（Kannel）的回调，凭 URL 中的令牌调用。"},
    {"name": STAFF_OTHER, "description": "其他需登录的工作人员接口。"},
]


class Ok(BaseModel):
    ok: bool = True


# --- public -------------------------------------------------------------------------------------


class SearchHitOut(BaseModel):
    id: int
    external_id: str
    title: str
    category: str
    department: str | None
    score: float
    snippet: str = Field(description="转义后的 HTML，仅含 <mark> 标记")
    relevance: float = Field(description="相关度 0..1")
    answered: bool = Field(description="是否作为答案呈现（相关度达到阈值）")


class SearchOut(BaseModel):
    query: str
    total: int
    suggestion: str | None = Field(description="“您是不是要找”的建议检索词")
    hits: list[SearchHitOut]


class DocumentOut(BaseModel):
    """A published document as readers see it (body split into sections for reading aloud)."""

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
    published_at: IsoDate | None
    valid_until: IsoDate | None
    status: str
    sections: list[str]
    review_due: IsoDate | None
    views: int
    helpful_count: int
    unhelpful_count: int


class FeedbackIn(BaseModel):
    helpful: bool
    comment: str = Field("", max_length=500)
    query: str = Field("", max_length=200, description="把读者带到本文档的检索词（如有）")


# --- staff: knowledge base ----------------------------------------------------------------------


class WorkingCopyOut(BaseModel):
    """The newest revision's content (what editors work on)."""

    title: str | None = None
    category: str | None = None
    department: str | None = None
    keywords: list[str] | None = None
    question: str | None = None
    answer: str | None = None
    body: str | None = None
    source_url: str | None = None
    published_at: IsoDate | None = None
    valid_until: IsoDate | None = None
    review_due: IsoDate | None = None


class DocumentRowOut(BaseModel):
    """A document's row: the published content, the workflow status and the counters."""

    id: int
    external_id: str
    title: str
    category: str
    department: str | None
    keywords: list[str] | None
    question: str | None
    answer: str | None
    body: str
    source_url: str | None
    published_at: IsoDate | None
    valid_until: IsoDate | None
    review_due: IsoDate | None
    status: str = Field(description="draft / submitted / scheduled / published / withdrawn")
    live: bool = Field(description="已发布内容是否对公众可见")
    views: int
    helpful_count: int
    unhelpful_count: int
    revision_count: int
    publish_at: IsoMoment | None = Field(None, description="定时发布时间")
    withdraw_at: IsoMoment | None = Field(None, description="定时下线时间")
    published_revision_id: int | None
    created_at: IsoMoment
    updated_at: IsoMoment = Field(description="最近一次编辑或流程操作的时间（阅读和反馈不改变它）")


class StaffDocumentOut(DocumentRowOut):
    working_copy: WorkingCopyOut


class DocumentPage(BaseModel):
    total: int
    page: int
    items: list[DocumentRowOut]


class HistoryEntryOut(BaseModel):
    id: int
    at: IsoMoment
    actor: str
    action: str
    entity: str
    entity_id: str
    comment: str | None
    detail: dict[str, Any] | None
    user_id: int | None


class SimilarOut(BaseModel):
    id: int
    title: str
    status: str
    similarity: float = Field(description="0..1")


class RevisionOut(BaseModel):
    id: int
    document_id: int
    number: int
    title: str
    category: str
    department: str | None
    keywords: list[str] | None
    question: str | None
    answer: str | None
    body: str
    source_url: str | None
    published_at: IsoDate | None
    valid_until: IsoDate | None
    review_due: IsoDate | None
    actor: str
    comment: str | None
    created_at: IsoMoment


class StaffSearchHitOut(SearchHitOut):
    title_html: str = Field("", description="转义后的标题 HTML，仅含 <mark> 标记")


class StaffSearchOut(BaseModel):
    query: str
    total: int
    suggestion: str | None
    hits: list[StaffSearchHitOut]


class GapOut(BaseModel):
    id: int
    query: str
    channel: str
    count: int
    first_seen: IsoMoment
    last_seen: IsoMoment
    resolved: bool
    resolved_by: str | None
    resolved_at: IsoMoment | None


class SynonymGroupOut(BaseModel):
    id: int
    words: list[str]
    updated_by: str
    updated_at: IsoMoment


# --- session, gateway ---------------------------------------------------------------------------


class SessionUser(BaseModel):
    username: str
    roles: list[str]


class SessionOut(BaseModel):
    csrf_token: str
    user: SessionUser | None


class DeliveryReportOut(BaseModel):
    recorded: bool
    reason: str | None = None
