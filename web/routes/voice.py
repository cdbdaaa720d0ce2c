"""Pages and API for: voice."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
