"""Errors a user can cause; messages are Chinese and safe to show as they are."""

from __future__ import annotations


class KbError(ValueError):
    """Bad input or a missing document."""


class WorkflowError(KbError):
    """A workflow step that is not allowed in the document's current state."""


class NotPermitted(KbError):
    """A step this user may not take on this document (the four-eyes rule of review)."""


class EditConflict(WorkflowError):
    """Someone else saved the document, or moved it on in the workflow, since this editor read it."""

    def __init__(self, message: str = "文档已被他人修改，请刷新后再编辑。") -> None:
        super().__init__(message)
