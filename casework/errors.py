"""Errors a user can cause; messages are Chinese and can be shown as is."""

from __future__ import annotations


class CaseError(ValueError):
    """A refused case-work request (bad input or an action the case's state does not allow)."""


class IllegalTransition(CaseError):
    """The action is not allowed in the case's current status."""


class CaseQueryRejected(CaseError):
    """Wrong case number or password (deliberately not saying which)."""


class CaseQueryLocked(CaseError):
    """Too many failed progress queries for this case or this caller; try again later."""


class CaseChanged(IllegalTransition):
    """Someone else changed the case's status meanwhile (the loser of a race); nothing was done."""
