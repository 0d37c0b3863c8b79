"""A private PostgreSQL cluster for the faults that stop, fill or lock the database.

The shared server other work depends on is never touched: each fault that needs a database
it may restart gets its own cluster (initdb into a temp folder, a free port, a socket in
that folder), removed with everything in it when the fault ends. PostgreSQL refuses to run
as root, so as root its programs run as the `postgres` user.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import psycopg

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
OWNER = "postgres"
DATABASE = "faults"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def as_owner(*command: str) -> list[str]:
    """The command as the cluster's owner (PostgreSQL will not run as root)."""
    return ["runuser", "-u", OWNER, "--", *command] if os.geteuid() == 0 else list(command)


def chown_to_owner(path: Path) -> None:
    if os.geteuid() == 0:
        shutil.chown(path, OWNER, OWNER)


class PrivateCluster:
    """initdb, start, restart and stop one throw-away PostgreSQL 15 cluster."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="orderledger-faults-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.port = free_port()
        self.mounts: list[Path] = []

    @property
    def available(self) -> str | None:
        """None when initdb is at hand, else why not."""
        if not (BIN / "initdb").exists():
            return f"no PostgreSQL programs in {BIN} (set PG_BIN)"
        return None

    def url(self, database: str = DATABASE) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def conninfo(self, database: str = DATABASE) -> str:
        return f"host=127.0.0.1 port={self.port} dbname={database} user=postgres"

    def __enter__(self) -> PrivateCluster:
        chown_to_owner(self.root)
        self._run(BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions")  # fmt: skip
        with (self.data / "postgresql.conf").open("a") as conf:
            # A throw-away cluster: no fsync (an OS crash is not among the faults), small.
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\n"
                "full_page_writes = off\nshared_buffers = 32MB\n"
                "max_connections = 100\n"
            )
        self.start()
        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {DATABASE}")
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.remove()

    def start(self) -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-l", self.root / "server.log", "-w",
                  "-t", "60", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run(BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> float:
        """Stop (fast: sessions ended cleanly; immediate: as a crash) and start again; return
        the seconds the server was away."""
        began = time.monotonic()
        self.stop(mode)
        self.start()
        return time.monotonic() - began

    def execute(self, sql: str, database: str = DATABASE) -> None:
        with psycopg.connect(self.conninfo(database), autocommit=True) as connection:
            connection.execute(sql.encode())

    def tmpfs(self, name: str, size: str) -> Path:
        """A small tmpfs mounted in the cluster's folder and owned by PostgreSQL (root only)."""
        path = self.root / name
        path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", path],
                       check=True, capture_output=True)  # fmt: skip
        self.mounts.append(path)
        chown_to_owner(path)
        return path

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(as_owner(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                    "-w", "stop"), capture_output=True)  # fmt: skip
        for mount in reversed(self.mounts):
            subprocess.run(["umount", "-l", mount], capture_output=True)
        self.mounts.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = (self.root / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def _run(self, *command: object) -> None:
        done = subprocess.run(as_owner(*map(str, command)), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(
                f"{Path(str(command[0])).name} failed ({done.returncode}): "
                f"{(done.stderr or done.stdout).strip()}\n{self.log_tail()}"
            )
