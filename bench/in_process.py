"""What bench/writes.py and bench/reads.py share: the app's environment for a run inside this process on a
local PostgreSQL database (no Redis, no limits, the memory SMS sender), set before the app is imported."""

from __future__ import annotations

import os
import subprocess
import sys

HOST = os.environ.get("PGHOST", "127.0.0.1")
PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def use_database(name: str) -> None:
    """Point the app at the local database ``name``, and make the project importable from anywhere."""
    os.environ.update(
        {
            "DATABASE_URL": f"postgresql+psycopg://{os.environ.get('PGUSER', 'root')}@{HOST}/{name}",
            "APP_ENV": "development",
            "OTP_DEBUG": "false",
            "RATELIMIT_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
            "SMS_BACKEND": "memory",
            "SECRET_KEY": "bench-secret-key-bench-secret-key-0123",
            "JWT_SECRET_KEY": "bench-jwt-secret-key-bench-jwt-0123",
        }
    )
    os.environ.pop("REDIS_URL", None)
    if PROJECT not in sys.path:
        sys.path.insert(0, PROJECT)


def fresh_database(name: str) -> None:
    """Drop the local database ``name`` if it is there and create it empty (a bench script's throwaway one)."""
    for statement in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
        subprocess.run(["psql", "-h", HOST, "-d", "postgres", "-qc", statement], check=True)
