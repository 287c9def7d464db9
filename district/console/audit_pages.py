"""The console's audit_pages pages (being built)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
