"""The real server in a process of its own (`orderledger serve`), and a caller with a key.

The faults that break the database talk to the API the way clients do: over HTTP to
uvicorn on a free port, with a bearer key, so what they see is what a client would see.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import httpx

from api.runtime import open_runtime
from api.settings import Settings
from bench.faults.cluster import free_port
from bench.faults.workload import meta

ROOT = Path(__file__).resolve().parents[2]
CALLER = "faults.clerk"
START_TIMEOUT = 60.0


def issue_caller_key(settings: Settings) -> str:
    """A user who may do anything (an administrator), and an API key for it."""
    runtime = open_runtime(settings, start_projections=False)
    try:
        runtime.access.create_user(meta("users create"), name=CALLER, role="admin")
        _, key = runtime.access.issue_key(meta("users issue-key"), name=CALLER, label="faults")
        return key
    finally:
        runtime.close()


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment without its ORDERLEDGER_* variables, plus the settings'."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORDERLEDGER_")}
    env.update(
        ORDERLEDGER_DATABASE_URL=settings.database_url,
        ORDERLEDGER_EVENTS_SCHEMA=settings.events_schema,
        ORDERLEDGER_VIEWS_SCHEMA=settings.views_schema,
        ORDERLEDGER_POSTGRES_POOL_SIZE=str(settings.postgres_pool_size),
        PYTHONPATH=str(ROOT),
    )
    if settings.cipher_key is not None:
        env["ORDERLEDGER_CIPHER_KEY"] = settings.cipher_key.get_secret_value()
    env.update({f"ORDERLEDGER_{name.upper()}": value for name, value in extra.items()})
    return env


def cli(*args: str) -> list[str]:
    """`orderledger …` as this checkout's code runs it."""
    return [sys.executable, "-c", "from api.cli import main; main()", *args]


class Served:
    """`orderledger serve` on 127.0.0.1 and a free port, stopped (SIGTERM) on exit."""

    def __init__(self, settings: Settings, key: str, **extra_settings: str) -> None:
        self.port = free_port()
        self.env = settings_env(settings, **extra_settings)
        self.key = key
        self.log = Path(tempfile.mkstemp(prefix="orderledger-faults-serve-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, timeout: float = 30.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def __enter__(self) -> Served:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                cli("serve", "--host", "127.0.0.1", "--port", str(self.port)),
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start:\n{self.log_tail()}")
            time.sleep(0.1)
        return self

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.TransportError:
            return False
        return True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.unlink(missing_ok=True)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


class Worker:
    """`orderledger projections run NAMES…` in a process of its own (all read models when no
    name is given); SIGTERM on exit, as a deployment stops it."""

    def __init__(
        self, settings: Settings, *names: str, report_seconds: float = 1.0, **extra_settings: str
    ) -> None:
        self.names = names
        self.env = settings_env(settings, **extra_settings)
        self.report_seconds = report_seconds
        self.log = Path(tempfile.mkstemp(prefix="orderledger-worker-", suffix=".log")[1])
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Worker:
        args = ("projections", "run", *self.names, "--report-seconds", str(self.report_seconds))
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                cli(*args), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + START_TIMEOUT
        while "running" not in self.log_text():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the projection worker did not start:\n{self.log_text()}")
            time.sleep(0.05)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, and the exit code once it has stopped."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def kill(self) -> int:
        assert self.process is not None
        self.process.kill()
        return self.process.wait(10)

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                self.terminate()
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.unlink(missing_ok=True)

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""
