"""The 16 KiB body limit under the servers that run the app (gunicorn with the image's config, and the
development server of ``make run``), for a body announced by Content-Length and for a chunked one."""

import os
import shutil
import socket
import subprocess
import sys

import pytest

from referral.extensions import db
from tests.http.test_limits import ROOT, free_port, wait_until_up

SERVERS = {
    "gunicorn": [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
    "flask run": [sys.executable, "-m", "flask", "run", "--no-reload"],
}


@pytest.fixture(params=list(SERVERS))
def server(request, app, postgres_only, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "testing",
        "FLASK_APP": "wsgi",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "FLASK_RUN_PORT": str(port),
        "GUNICORN_WORKERS": "1",
        "GUNICORN_ACCESS_LOG": "",
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "SECRET_KEY": app.config["SECRET_KEY"],
        "JWT_SECRET_KEY": app.config["JWT_SECRET_KEY"],
    }
    if request.param == "gunicorn" and shutil.which("gunicorn", path=os.path.dirname(sys.executable)) is None:
        pytest.skip("gunicorn is not installed")
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115
    process = subprocess.Popen(SERVERS[request.param], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"http://127.0.0.1:{port}")
        yield port
    finally:
        process.terminate()
        process.wait(10)


def send_chunked(port: int, path: str, content_type: str, body: bytes, chunk: int = 8192) -> int:
    """POST ``body`` in chunks of ``chunk`` bytes; the status the server answered (it may answer before
    reading everything and close: what was not sent by then is not sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            for start in range(0, len(body), chunk):
                piece = body[start : start + chunk]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the rest was sent
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    return int(answer.split(b" ", 2)[1])


@pytest.mark.committing
def test_a_chunked_json_body_over_the_limit_is_413(server):
    body = b'{"phone": "+79990000005"}' + b" " * (1 << 20)
    assert send_chunked(server, "/api/v1/auth/code", "application/json", body) == 413


@pytest.mark.committing
def test_a_small_chunked_json_body_is_read_whole(server):
    assert send_chunked(server, "/api/v1/auth/code", "application/json", b'{"phone": "+79990000006"}', 5) == 202


@pytest.mark.committing
def test_a_chunked_form_over_the_limit_is_413(server):
    assert send_chunked(server, "/", "application/x-www-form-urlencoded", b"phone=" + b"9" * (1 << 20)) == 413
