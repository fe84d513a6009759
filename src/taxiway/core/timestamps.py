"""Timestamps as the contract writes them: ISO 8601 UTC with milliseconds, e.g. 2025-01-10T02:55:10.654Z."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
