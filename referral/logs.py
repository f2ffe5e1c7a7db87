"""Logging: one line per event, to standard error, at ``LOG_LEVEL``."""

from __future__ import annotations

import logging

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app: Flask) -> None:
    root = logging.getLogger()
    if not any(getattr(handler, "_referral", False) for handler in root.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler._referral = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
