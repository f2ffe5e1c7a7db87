"""A throwaway PostgreSQL cluster for one test run, where PostgreSQL's server binaries are installed.

pytest-postgresql would do this, but PostgreSQL refuses to run as root and pytest-postgresql cannot switch
users, while root is exactly who runs the tests in containers and on these machines. So: initdb into a
temporary folder, start on a free port with durability off (it is thrown away), stop and delete at the end;
as root, the server runs as the ``postgres`` system user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def find_bindir() -> str | None:
    """The folder with ``initdb`` and ``pg_ctl``: on PATH, or Debian's versioned folder."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return os.path.dirname(on_path)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def usable() -> bool:
    if find_bindir() is None:
        return False
    if os.geteuid() != 0:
        return True
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        return False
    return shutil.which("runuser") is not None


@contextmanager
def throwaway_cluster() -> Iterator[str]:
    """Start a cluster; yield a SQLAlchemy URL of its ``postgres`` database; stop and delete it after."""
    bindir = find_bindir()
    assert bindir is not None
    folder = tempfile.mkdtemp(prefix="referral-pg-")
    data, log = os.path.join(folder, "data"), os.path.join(folder, "server.log")
    as_owner: list[str] = []
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
        as_owner = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    settings = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    try:
        _run([*as_owner, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-sync"])
        _run([*as_owner, f"{bindir}/pg_ctl", "-D", data, "-o", settings, "-l", log, "-w", "-t", "60", "start"])
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_owner, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], capture_output=True
        )
        shutil.rmtree(folder, ignore_errors=True)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{result.stdout}\n{result.stderr}")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
