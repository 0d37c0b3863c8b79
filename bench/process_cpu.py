"""CPU time of processes read from /proc (Linux), and the PostgreSQL backends that serve them.

The database server is shared with other work, so its CPU is counted only for the backends
whose client sockets belong to the processes measured: their local TCP ports, matched to
`pg_stat_activity.client_port`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import psycopg

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads); 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def local_ports(pids: Iterable[int], remote_port: int) -> set[int]:
    """Local ports of the processes' TCP connections to `remote_port`."""
    inodes: set[str] = set()
    for pid in pids:
        inodes |= _socket_inodes(pid)
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if inode in inodes and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                ports.add(int(local.rsplit(":", 1)[1], 16))
    return ports


def backend_pids(
    connection: psycopg.Connection[Any], client_pids: Iterable[int], port: int = 5432
) -> list[int]:
    """The PostgreSQL backends connected from these processes."""
    ports = sorted(local_ports(client_pids, port))
    if not ports:
        return []
    rows = connection.execute(
        "SELECT pid FROM pg_stat_activity WHERE client_port = ANY(%s)", (ports,)
    ).fetchall()
    return [int(row[0]) for row in rows]


class CpuMeter:
    """CPU seconds used between `start` and `stop` by named processes and by the database
    backends serving them (backends met at either end are counted). `connection` (autocommit)
    is kept open by the caller: the shared server may have no connection to spare later."""

    def __init__(
        self, connection: psycopg.Connection[Any], processes: dict[str, int], pg_port: int = 5432
    ) -> None:
        self.connection = connection
        self.processes = processes
        self.pg_port = pg_port
        self._before: dict[int, float] = {}
        self._backends: list[int] = []

    def _pids(self) -> list[int]:
        return list(self.processes.values())

    def start(self) -> None:
        self._backends = backend_pids(self.connection, self._pids(), self.pg_port)
        self._before = {pid: cpu_seconds(pid) for pid in [*self._pids(), *self._backends]}

    def stop(self) -> dict[str, float]:
        backends = set(self._backends) | set(
            backend_pids(self.connection, self._pids(), self.pg_port)
        )
        used = {
            name: cpu_seconds(pid) - self._before.get(pid, 0.0)
            for name, pid in self.processes.items()
        }
        used["PostgreSQL"] = sum(
            max(0.0, cpu_seconds(pid) - self._before.get(pid, 0.0)) for pid in backends
        )
        return used
