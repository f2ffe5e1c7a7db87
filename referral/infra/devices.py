"""What a person reads for a device: "Chrome Mobile on Android", from the user agent a session was started with.

ua-parser (its precompiled rules) takes about 5 ms a string here, and 0.9 s for its first: so a session keeps the
user agent as sent and it is described only when someone looks at their devices, each string once a process.
"""

from __future__ import annotations

import functools

from ua_parser import parse

USER_AGENT_KEPT = 200  # characters of the user agent a session keeps


@functools.lru_cache(maxsize=1024)
def browser_and_system(user_agent: str | None) -> tuple[str | None, str | None]:
    """The browser's and the system's names (``None`` where not recognised)."""
    if not user_agent:
        return None, None
    found = parse(user_agent)
    browser = found.user_agent.family if found.user_agent and found.user_agent.family != "Other" else None
    system = found.os.family if found.os and found.os.family != "Other" else None
    return browser, system
