"""The console for the people who run the programme: ``/admin``, for staff only (``flask staff grant``).

A fourth blueprint beside the API's two and the pages, built on the pages' own pattern (server-rendered, no
inline script, CSRF on every form, Russian and English) and on their shared helpers (``web.pages``,
``web.messages``), calling domain functions for every action. Flask-Admin was not used: its model views write
to tables directly (no domain rules, no audit entry per action), and its templates load inline scripts the
pages' CSP refuses.
"""

from __future__ import annotations

from flask import Flask

from referral.console import door, programme_views, views  # noqa: F401  (their routes join the blueprint)
from referral.console.charts import percent
from referral.console.door import bp
from referral.console.words import word


def register_console(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_template_filter(percent, "percent")
    app.add_template_filter(word, "word")
