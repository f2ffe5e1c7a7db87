"""The access log gunicorn writes with the image's config (``gunicorn.conf.py``): one JSON object per request,
whatever the request's path, with the request id the response carried."""

import json
import os
import runpy
import shutil
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from gunicorn.config import Config

from tests.http.test_limits import ROOT, gunicorn_serving

TRICKY_PATHS = ["/", '/"quoted"', "/back\\slash\\", '/\\", "status": 200, "x": "', "/привет", "/tab\there"]


class Answer:
    """What gunicorn hands its logger: the response as sent."""

    status = "404 NOT FOUND"
    sent = 207
    headers = [("Content-Type", "application/problem+json"), ("X-Request-ID", "req-1")]


def the_config_logger_class() -> type:
    """``logger_class`` of ``gunicorn.conf.py``, read without the environment it sets for the server it configures
    (its metrics directory), which would turn this process's metrics to multiprocess mode."""
    with mock.patch.dict(os.environ):
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))["logger_class"]


def access_logger(path: Path):
    config = Config()
    config.set("accesslog", str(path))
    config.set("logger_class", the_config_logger_class())
    return config.logger_class(config)


def test_every_path_gives_one_line_of_json_with_the_fields_of_the_old_format(tmp_path):
    logger = access_logger(tmp_path / "access.log")
    for path in TRICKY_PATHS:
        environ = {"REMOTE_ADDR": "203.0.113.7", "REQUEST_METHOD": "GET", "PATH_INFO": path}
        logger.access(Answer(), None, environ, timedelta(seconds=1, microseconds=2500))

    lines = (tmp_path / "access.log").read_text().splitlines()
    assert len(lines) == len(TRICKY_PATHS)
    for path, line in zip(TRICKY_PATHS, lines, strict=True):
        entry = json.loads(line)
        assert entry.pop("time").startswith("[")  # gunicorn's common-log time, as the format string wrote it
        assert entry == {
            "logger": "gunicorn.access",
            "request_id": "req-1",
            "remote": "203.0.113.7",
            "method": "GET",
            "path": path,
            "status": 404,
            "bytes": "207",
            "ms": 1002,
        }


def test_an_answer_without_a_request_id_or_a_size_logs_dashes(tmp_path):
    class Bare(Answer):
        headers: list[tuple[str, str]] = []
        sent = None

    logger = access_logger(tmp_path / "access.log")
    logger.access(Bare(), None, {}, timedelta(0))

    entry = json.loads((tmp_path / "access.log").read_text())
    assert (entry["request_id"], entry["bytes"], entry["remote"], entry["method"], entry["path"]) == ("-",) * 5


def test_no_access_log_configured_writes_nothing(tmp_path, capsys):
    config = Config()
    config.set("logger_class", the_config_logger_class())
    config.logger_class(config).access(Answer(), None, {"PATH_INFO": "/"}, timedelta(0))
    assert capsys.readouterr() == ("", "")


@pytest.fixture
def gunicorn_with_access_log(app, postgres_only, tmp_path):
    if shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("gunicorn is not installed")
    access_log = tmp_path / "access.log"
    with gunicorn_serving(app, tmp_path, GUNICORN_WORKERS="1", GUNICORN_ACCESS_LOG=str(access_log)) as (port, _):
        yield f"http://127.0.0.1:{port}", access_log


def test_a_request_for_a_backslash_path_is_in_the_access_log_with_its_request_id(gunicorn_with_access_log):
    base, access_log = gunicorn_with_access_log
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(f"{base}/%5C%22a%22%5C", timeout=5)
    assert answer.value.code == 404

    entry = last_entry_for(access_log, '/\\"a"\\')
    assert entry["status"] == 404
    assert entry["request_id"] == answer.value.headers["X-Request-ID"]


def last_entry_for(access_log: Path, path: str) -> dict:
    """The access log's entry for ``path``: gunicorn writes it after the answer is sent, so it is waited for."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entries = [json.loads(line) for line in access_log.read_text().splitlines()] if access_log.exists() else []
        found = [entry for entry in entries if entry["path"] == path]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"no access log entry for {path!r}")
