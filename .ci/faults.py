"""The fault suite: the production shape on loopback, under steady load, while its parts fail and come back.

nginx -> two gunicorn instances of the app -> PgBouncer (transaction pooling) -> a throwaway PostgreSQL, with
a private Redis for the per-IP limits and the SMS queue and one `flask sms worker`. A load generator signs
people up (code, token with an invite code, profile reads) at a steady rate while this script stops and starts
PostgreSQL, stops and starts Redis, restarts each app instance in turn (drained at nginx first, as an operator
does), and kills the SMS worker in the middle of a delivery. Then it prints one table and fails on any 500,
any 5xx but a 503, any 503 answered more than a second after the dependency it was about was back (or while
nothing was down), any request that hung, any account created without its 201 (or the other way round), any
code answered 202 whose message was not delivered in the end, and any body over the limit (announced or
chunked) that was not a 413 problem, through nginx and at an instance.

Everything listens on 127.0.0.1; every loop is bounded; it stops by itself. Run by .ci/faults.
"""

from __future__ import annotations

import collections
import json
import os
import pwd
import random
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.pg_cluster import find_bindir  # noqa: E402

VENV = ROOT / ".venv" / "bin"
LOAD_SECONDS = int(os.environ.get("FAULTS_LOAD_SECONDS", "80"))
RATE = float(os.environ.get("FAULTS_RATE", "6"))  # sign-up flows started per second
HANG_SECONDS = 10.0
WORKERS = ("worker1", "worker2", "worker3")  # SMS workers: each delivers one message at a time
DRAIN_SECONDS = int(os.environ.get("FAULTS_DRAIN_SECONDS", "180"))
READERS = 2  # signed-in people reading their profile one request after another, throughout
# A 503 is the right answer while a dependency is down, and for at most this long after it is back.
RECOVERY_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def log(message: str) -> None:
    print(f"[faults {time.strftime('%H:%M:%S')}] {message}", flush=True)


def wait_for(check, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:
            pass
        time.sleep(0.2)
    raise SystemExit(f"faults: {what} did not happen within {seconds} s")


def http_status(url: str, timeout: float = 2.0) -> int:
    """The status ``url`` answers, 0 for no answer (refused, reset, timed out)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


class Stack:
    """Every process of the deployment, each startable and stoppable on its own."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.owner = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        self.as_owner = ["runuser", "-u", "postgres", "--"] if self.owner else []
        versioned = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
        self.bindir = str(versioned[-1].parent) if versioned else find_bindir()
        if self.bindir is None:
            raise SystemExit("faults: PostgreSQL's server binaries are not installed")
        self.ports = {name: free_port() for name in ("pg", "redis", "pgbouncer", "app1", "app2", "nginx")}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.pgdata = folder / "pgdata"
        if self.owner:
            os.chown(folder, self.owner.pw_uid, self.owner.pw_gid)

    # PostgreSQL
    def init_postgres(self) -> None:
        self._run([*self.as_owner, f"{self.bindir}/initdb", "-D", str(self.pgdata), "-A", "trust", "-U", "postgres"])
        self.start_postgres()
        self._run(
            [
                *self.as_owner,
                f"{self.bindir}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports["pg"]),
                "-U",
                "postgres",
                "referral",
            ]
        )

    def start_postgres(self) -> None:
        options = f"-p {self.ports['pg']} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            [
                *self.as_owner,
                f"{self.bindir}/pg_ctl",
                "-D",
                str(self.pgdata),
                "-o",
                options,
                "-l",
                str(self.folder / "postgres.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )

    def ensure_postgres(self) -> None:
        status = subprocess.run(
            [*self.as_owner, f"{self.bindir}/pg_ctl", "-D", str(self.pgdata), "status"], capture_output=True
        )
        if status.returncode != 0:
            self.start_postgres()

    def stop_postgres(self) -> None:
        self._run([*self.as_owner, f"{self.bindir}/pg_ctl", "-D", str(self.pgdata), "-m", "fast", "-w", "stop"])

    # Redis
    def start_redis(self) -> None:
        self.procs["redis"] = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.ports["redis"]),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.folder),
            ],
            stdout=open(self.folder / "redis.log", "ab"),
            stderr=subprocess.STDOUT,
        )
        wait_for(lambda: self._redis_ping(), 10, "Redis start")

    def stop_redis(self) -> None:
        self._stop("redis", signal.SIGKILL)  # as a crash: nothing is saved anyway

    def _redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports["redis"]), 1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(7) == b"+PONG\r\n"

    # PgBouncer
    def start_pgbouncer(self) -> None:
        auth = self.folder / "userlist.txt"
        auth.write_text('"postgres" ""\n')
        ini = self.folder / "pgbouncer.ini"
        ini.write_text(
            string.Template((ROOT / "deploy" / "pgbouncer.ini.template").read_text()).safe_substitute(
                DATABASE="referral",
                PG_HOST="127.0.0.1",
                PG_PORT=self.ports["pg"],
                PG_USER="postgres",
                LISTEN_ADDR="127.0.0.1",
                LISTEN_PORT=self.ports["pgbouncer"],
                AUTH_TYPE="trust",
                AUTH_FILE=auth,
                LOG_FILE=self.folder / "pgbouncer.log",
                PID_FILE=self.folder / "pgbouncer.pid",
            )
        )
        if self.owner:
            for path in (auth, ini):
                os.chown(path, self.owner.pw_uid, self.owner.pw_gid)
        self.procs["pgbouncer"] = subprocess.Popen(
            [*self.as_owner, shutil.which("pgbouncer") or "/usr/sbin/pgbouncer", str(ini)],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "pgbouncer.err", "ab"),
        )
        wait_for(
            lambda: socket.create_connection(("127.0.0.1", self.ports["pgbouncer"]), 1).close() is None,
            15,
            "PgBouncer start",
        )

    # The app
    def app_env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("DATABASE_", "REDIS_"))}
        env.update(
            APP_ENV="development",
            FLASK_APP="wsgi",
            LOG_FORMAT="json",
            LOG_LEVEL="WARNING",
            OTP_DEBUG="true",
            SECRET_KEY="faults-secret-key-faults-secret-key-0123",
            JWT_SECRET_KEY="faults-jwt-key-faults-jwt-key-0123",
            DATABASE_URL=f"postgresql+psycopg://postgres@127.0.0.1:{self.ports['pgbouncer']}/referral",
            DB_PREPARE_THRESHOLD="off",
            REDIS_URL=f"redis://127.0.0.1:{self.ports['redis']}/0",
            TRUSTED_PROXIES="1",
            SMS_BACKEND="console",
            SMS_DELAY_SECONDS="0.2-0.5",
            # One client address sends everything: the per-IP caps stay on (through Redis, then the fallback)
            # but out of the way; every phone is new, so the per-phone caps never bite.
            RATELIMIT_AUTH_CODE="100000 per minute",
            RATELIMIT_AUTH_TOKEN="100000 per minute",
            GUNICORN_WORKERS="2",
            GUNICORN_THREADS="4",
            GUNICORN_GRACEFUL_TIMEOUT="20",
            HOST="127.0.0.1",
            PATH=f"{VENV}:{os.environ.get('PATH', '')}",
        )
        return env

    def direct_env(self) -> dict[str, str]:
        """The app's settings, but on PostgreSQL itself rather than through PgBouncer (migrations, checks)."""
        return self.app_env() | {"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{self.ports['pg']}/referral"}

    def migrate(self) -> None:
        env = self.direct_env()
        subprocess.run(
            [str(VENV / "flask"), "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "migrate.log", "ab"),
        )

    def start_app(self, name: str) -> None:
        env = self.app_env() | {"PORT": str(self.ports[name]), "GUNICORN_ACCESS_LOG": ""}
        self._spawn(name, [str(VENV / "gunicorn"), "--config", "gunicorn.conf.py", "wsgi:app"], env)
        url = f"http://127.0.0.1:{self.ports[name]}/readyz"
        wait_for(lambda: http_status(url) == 200, 30, f"{name} ready")

    def stop_app(self, name: str) -> None:
        self._stop(name, signal.SIGTERM, wait=30)  # gunicorn finishes the requests in flight

    def start_worker(self, name: str) -> None:
        self._spawn(name, [str(VENV / "flask"), "sms", "worker"], self.app_env() | {"LOG_LEVEL": "INFO"})

    def kill_worker(self, name: str) -> None:
        self._stop(name, signal.SIGKILL)

    # nginx
    def write_nginx(self, down: str | None = None) -> Path:
        def server(name: str) -> str:
            return f"127.0.0.1:{self.ports[name]}" + (" down" if name == down else "")

        site = string.Template((ROOT / "deploy" / "nginx.conf.template").read_text()).safe_substitute(
            APP1=server("app1"),
            APP2=server("app2"),
            LISTEN=f"127.0.0.1:{self.ports['nginx']}",
            ACCESS_LOG=self.folder / "nginx-access.log",
        )
        (self.folder / "referral.conf").write_text(site)
        main = self.folder / "nginx.conf"
        temp = self.folder / "nginx-temp"
        temp.mkdir(exist_ok=True)
        main.write_text(
            f"worker_processes 1;\npid {self.folder}/nginx.pid;\nerror_log {self.folder}/nginx-error.log warn;\n"
            f"events {{ worker_connections 1024; }}\nhttp {{\n  client_body_temp_path {temp}/body;\n"
            f"  proxy_temp_path {temp}/proxy;\n  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
            f"  scgi_temp_path {temp}/scgi;\n  include {self.folder}/referral.conf;\n}}\n"
        )
        return main

    def start_nginx(self) -> None:
        main = self.write_nginx()
        self._run(["nginx", "-t", "-c", str(main)])
        self.procs["nginx"] = subprocess.Popen(
            ["nginx", "-c", str(main), "-g", "daemon off;"], stderr=open(self.folder / "nginx.err", "ab")
        )
        wait_for(lambda: http_status(self.url("/healthz")) == 200, 10, "nginx start")

    def reload_nginx(self, down: str | None) -> None:
        self.write_nginx(down)
        self._run(["nginx", "-c", str(self.folder / "nginx.conf"), "-s", "reload"])
        time.sleep(1.0)  # the new workers take over; the old ones finish what they have

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.ports['nginx']}{path}"

    def psql(self, sql: str) -> str:
        result = subprocess.run(
            [
                f"{self.bindir}/psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.ports["pg"]),
                "-U",
                "postgres",
                "-d",
                "referral",
                "-Atc",
                sql,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def shutdown(self) -> None:
        for name in ("nginx", "app1", "app2", *WORKERS, "pgbouncer", "redis"):
            if name in self.procs:
                self._stop(name, signal.SIGTERM, wait=25)
        subprocess.run(
            [*self.as_owner, f"{self.bindir}/pg_ctl", "-D", str(self.pgdata), "-m", "immediate", "stop"],
            capture_output=True,
        )

    def _spawn(self, name: str, command: list[str], env: dict[str, str]) -> None:
        """An app process from the project's folder, its standard error in ``NAME.log``."""
        self.procs[name] = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(self.folder / f"{name}.log", "ab")
        )

    def _stop(self, name: str, how: signal.Signals, wait: float = 10) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(how)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise SystemExit(f"faults: {' '.join(command[:3])} failed:\n{result.stdout}\n{result.stderr}")


class Load:
    """Sign-up flows at a steady rate: code, token (with the invite code of someone who signed up before),
    then three profile reads. Every answer is recorded; a flow stops at its first non-success."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.lock = threading.Lock()
        self.answers: collections.Counter[str] = collections.Counter()  # "METHOD path status"
        self.codes_5xx: collections.Counter[str] = collections.Counter()
        self.unavailable_at: list[float] = []  # time.monotonic() of every 503's answer
        self.created = 0  # 201s answered by /auth/token
        self.codes_issued = 0  # 202s answered by /auth/code
        self.sent = 0
        self.hung = 0
        self.slowest = 0.0
        self.invite_codes: list[str] = []
        self.tokens: list[str] = []  # access tokens of those who signed up, for the steady readers
        self.stop = threading.Event()
        self.phones = iter(f"+7999{n:07d}" for n in random.Random(7).sample(range(10**7), 200_000))

    def request(self, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.stack.url(path), data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=HANG_SECONDS) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except (TimeoutError, urllib.error.URLError, ConnectionError) as error:
            hung = isinstance(error, TimeoutError) or "timed out" in str(error)
            with self.lock:
                self.sent += 1
                self.hung += hung
                self.answers[f"{method} {path} {'hung' if hung else 'no answer'}"] += 1
            return 0, {}
        elapsed = time.monotonic() - started
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"code": "not-json"}
        route = path.split("?")[0]
        with self.lock:
            self.sent += 1
            self.slowest = max(self.slowest, elapsed)
            self.answers[f"{method} {route} {status}"] += 1
            if status >= 500:
                self.codes_5xx[f"{status} {payload.get('code', '-')}"] += 1
            if status == 503:
                self.unavailable_at.append(time.monotonic())
        return status, payload

    def flow(self) -> None:
        with self.lock:
            phone = next(self.phones)
            inviter = random.choice(self.invite_codes) if self.invite_codes and random.random() < 0.7 else None
        status, sent = self.request("POST", "/api/v1/auth/code", {"phone": phone})
        if status != 202:
            return
        with self.lock:
            self.codes_issued += 1
        body = {"phone": phone, "code": sent["debug_code"]} | ({"invite_code": inviter} if inviter else {})
        status, signed = self.request("POST", "/api/v1/auth/token", body)
        if status not in (200, 201):
            return
        with self.lock:
            self.created += status == 201
            self.invite_codes.append(signed["user"]["invite_code"])
            self.tokens.append(signed["access_token"])
        for _ in range(3):
            if self.request("GET", "/api/v1/profile", token=signed["access_token"])[0] != 200:
                return

    def read_steadily(self) -> None:
        """Profile reads one after another with the tokens of earlier sign-ups, through every fault: what a
        person who is already signed in meets while the database restarts."""
        while not self.stop.is_set():
            with self.lock:
                token = random.choice(self.tokens) if self.tokens else None
            if token is not None:
                self.request("GET", "/api/v1/profile", token=token)
            self.stop.wait(0.05)

    def run(self, seconds: float) -> None:
        readers = [threading.Thread(target=self.read_steadily, daemon=True) for _ in range(READERS)]
        for reader in readers:
            reader.start()
        threads: list[threading.Thread] = []
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < seconds:
            due = started + n / RATE
            time.sleep(max(0.0, due - time.monotonic()))
            thread = threading.Thread(target=self.flow, daemon=True)
            thread.start()
            threads.append(thread)
            n += 1
        for thread in threads:
            thread.join(HANG_SECONDS * 6)
        self.stop.set()
        for reader in readers:
            reader.join(HANG_SECONDS * 2)


OVERSIZED_ANSWER = "413 application/problem+json payload_too_large"


def body_limit_answers(stack: Stack) -> dict[str, str]:
    """What a 1 MiB body gets, announced and chunked, through nginx and at an instance (behind PgBouncer)."""
    body = b'{"phone": "+79990000000"}' + b" " * (1 << 20)
    answers = {}
    for where, port in (("through nginx", stack.ports["nginx"]), ("at app1", stack.ports["app1"])):
        for how in ("announced", "chunked"):
            answers[f"{how}, {where}"] = post_raw(port, "/api/v1/auth/code", body, chunked=how == "chunked")
    return answers


def post_raw(port: int, path: str, body: bytes, chunked: bool) -> str:
    """POST ``body`` on a socket of our own; "status content-type code" of the answer."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {len(body)}"
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{framing}\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"{head}Connection: close\r\n\r\n".encode())
        try:
            for start in range(0, len(body), 16384):
                piece = body[start : start + 16384]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # answered and closed before the rest was sent
        answer = b""
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    head_part, _, payload = answer.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1] if lines and " " in lines[0] else "no answer"
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    try:
        code = json.loads(payload).get("code", "-")
    except ValueError:
        code = "not json"
    return f"{status} {headers.get('content-type', '-')} {code}"


def readiness_turns(stack: Stack, want: int, seconds: float) -> float:
    """Seconds until /readyz through nginx answers ``want``."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        if http_status(stack.url("/readyz"), timeout=3) == want:
            return time.monotonic() - started
        time.sleep(0.1)
    return float("inf")


@dataclass
class Outage:
    """A dependency down from ``down_at`` until ``back_at`` (``time.monotonic()``), when it answered again."""

    what: str
    down_at: float
    back_at: float = float("inf")


def late_503s(unavailable_at: list[float], outages: list[Outage]) -> list[str]:
    """Each 503 answered outside every outage and its RECOVERY_SECONDS: how long after the last recovery."""
    late = []
    for at in unavailable_at:
        if any(outage.down_at <= at <= outage.back_at + RECOVERY_SECONDS for outage in outages):
            continue
        before = [outage for outage in outages if outage.back_at <= at]
        since = f"{at - before[-1].back_at:.2f} s after {before[-1].what} was back" if before else "before any fault"
        late.append(since)
    return late


def faults(stack: Stack, load: Load, notes: list[str], failures: list[str], outages: list[Outage]) -> None:
    try:
        inject_faults(stack, load, notes, failures, outages)
    except BaseException as error:  # noqa: BLE001  (reported as a failure of the run, not lost in a thread)
        failures.append(f"the fault injector stopped: {error!r}")


def counted_unavailable(stack: Stack) -> float:
    """The 503s the two instances say they answered for a dependency (each instance's /metrics, from here: the
    loopback may read it), and that nginx keeps /metrics from the public."""
    total = 0.0
    for name in ("app1", "app2"):
        with urllib.request.urlopen(f"http://127.0.0.1:{stack.ports[name]}/metrics", timeout=5) as response:
            text = response.read().decode()
        total += sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "referral_dependency_unavailable_total"
        )
    return total


def inject_faults(stack: Stack, load: Load, notes: list[str], failures: list[str], outages: list[Outage]) -> None:
    time.sleep(10)
    log("stopping PostgreSQL")
    outages.append(postgres := Outage("PostgreSQL", time.monotonic()))
    stack.stop_postgres()
    notes.append(f"/readyz 503 {readiness_turns(stack, 503, 10):.1f} s after PostgreSQL stopped")
    time.sleep(5)
    log("starting PostgreSQL")
    stack.start_postgres()  # pg_ctl -w: back when it accepts connections
    postgres.back_at = time.monotonic()
    notes.append(f"/readyz 200 {readiness_turns(stack, 200, 15):.1f} s after PostgreSQL was back")
    with load.lock:
        seen = len(load.unavailable_at)  # every 503 so far: each was counted by its instance before it was sent
    counted = counted_unavailable(stack)
    notes.append(f"503s seen by the load / counted by the instances' metrics, PostgreSQL back: {seen} / {counted:g}")
    if not seen or counted < seen:
        failures.append(f"the metrics counted {counted:g} dependency 503s where the load saw {seen}")
    if http_status(stack.url("/metrics")) != 404:
        failures.append("nginx let the public read /metrics")
    time.sleep(10)
    log("stopping Redis")
    outages.append(redis := Outage("Redis", time.monotonic()))
    stack.stop_redis()
    time.sleep(6)
    log("starting Redis")
    stack.start_redis()  # back when it answers PING
    redis.back_at = time.monotonic()
    time.sleep(10)
    for name in ("app1", "app2"):
        log(f"rolling restart: draining {name} at nginx, then SIGTERM, start, ready, back in")
        stack.reload_nginx(down=name)
        stack.stop_app(name)
        stack.start_app(name)
        stack.reload_nginx(down=None)
        time.sleep(3)
    time.sleep(5)
    log("killing an SMS worker in the middle of a delivery")
    stack.kill_worker(WORKERS[0])
    time.sleep(3)
    log("starting it again")
    stack.start_worker(WORKERS[0])


def main() -> int:
    folder = Path(tempfile.mkdtemp(prefix="referral-faults-"))
    stack = Stack(folder)
    notes: list[str] = []
    failures: list[str] = []
    try:
        log(f"setting up in {folder}")
        stack.init_postgres()
        stack.start_redis()
        stack.migrate()
        stack.start_pgbouncer()
        stack.start_app("app1")
        stack.start_app("app2")
        for name in WORKERS:
            stack.start_worker(name)
        stack.start_nginx()
        load = Load(stack)
        outages: list[Outage] = []
        injector = threading.Thread(target=faults, args=(stack, load, notes, failures, outages), daemon=True)
        log(f"load: {RATE:g} sign-up flows a second for {LOAD_SECONDS} s")
        injector.start()
        load.run(LOAD_SECONDS)
        injector.join(120)
        stack.ensure_postgres()  # whatever the injector got to, the counts below are read from PostgreSQL
        oversized = body_limit_answers(stack)
        log("load done; waiting for every code's message to be delivered")
        delivered = 0
        drain_started = time.monotonic()
        while time.monotonic() - drain_started < DRAIN_SECONDS:
            delivered = int(stack.psql("SELECT count(*) FROM sms_sends WHERE status = 'sent'"))
            if delivered >= load.codes_issued:
                break
            time.sleep(2)
        notes.append(f"the last message delivered {time.monotonic() - drain_started:.0f} s after the load ended")
        accounts = int(stack.psql("SELECT count(*) FROM users"))
        statuses = stack.psql("SELECT status || ' ' || count(*) FROM sms_sends GROUP BY status ORDER BY status")
        undelivered = stack.psql(
            "SELECT to_char(sent_at, 'HH24:MI:SS') || ' ' || status || ' ' || attempts || ' '"
            " || coalesce(last_error, '') FROM sms_sends WHERE status NOT IN ('sent', 'failed')"
            " ORDER BY sent_at LIMIT 30"
        )
        status_cli = subprocess.run(
            [str(VENV / "flask"), "sms", "status"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env=stack.direct_env(),
        ).stdout
    finally:
        stack.shutdown()

    bad_5xx = {code: n for code, n in load.codes_5xx.items() if not code.startswith("503 service_unavailable")}
    late = late_503s(load.unavailable_at, outages)
    checks = {
        "every fault was injected": not failures,
        "no 500 and no 5xx but 503 service_unavailable": not bad_5xx,
        f"no 503 more than {RECOVERY_SECONDS:g} s after its dependency was back": not late,
        "every body over the limit is a 413 problem": all(answer == OVERSIZED_ANSWER for answer in oversized.values()),
        "no request hung": load.hung == 0,
        "accounts created == 201s answered": accounts == load.created,
        "codes answered 202 == messages delivered": delivered == load.codes_issued,
    }
    print(
        "\n=== fault suite: requests through nginx while PostgreSQL, Redis, both app instances and the SMS worker"
        " were stopped and started"
    )
    print(f"| requests sent | {load.sent} |\n| slowest answer | {load.slowest:.2f} s |")
    for key, n in sorted(load.answers.items()):
        print(f"| {key} | {n} |")
    for key, n in sorted(load.codes_5xx.items()):
        print(f"| 5xx {key} | {n} |")
    print(f"| accounts created / 201s answered | {accounts} / {load.created} |")
    print(f"| codes answered 202 / messages delivered | {load.codes_issued} / {delivered} |")
    print(f"| sms_sends by status | {statuses.replace(chr(10), ', ')} |")
    print(f"| 503s answered more than {RECOVERY_SECONDS:g} s after recovery | {len(late)} |")
    for since in late[:10]:
        print(f"| a late 503, {since} |")
    for outage in outages:
        print(f"| {outage.what} down for {outage.back_at - outage.down_at:.1f} s |")
    for where, answer in oversized.items():
        print(f"| over the limit, {where} | {answer} |")
    for note in notes + failures:
        print(f"| {note} |")
    print("\n`flask sms status` after the run:\n" + status_cli)
    if undelivered:
        print("codes answered 202 whose message is not delivered (sent at, status, attempts, error):\n" + undelivered)
    for name, ok in checks.items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    if all(checks.values()):
        shutil.rmtree(folder, ignore_errors=True)
        return 0
    print(f"the logs of every process are in {folder}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
