"""Errors a user can cause; messages are Chinese and safe to show as they are."""

from __future__ import annotations


class KbError(ValueError):
    """Bad input or a missing document."""


class WorkflowError(KbError):
    """A workflow step that is not allowed in the document's current state."""
