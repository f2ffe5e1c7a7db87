"""The one place the code reads the time, so tests can move it (``tests/conftest.py: clock``)."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
