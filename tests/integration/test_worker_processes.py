"""Read models kept by `orderledger projections run` processes beside API processes that run
none (ORDERLEDGER_RUN_PROJECTIONS=false): every part a real process on one store. Commands
go over HTTP to either server; a read sent to the other server at the command's position sees
it; a worker killed with SIGKILL is covered by its stand-by and resumes when restarted; and
afterwards every read model equals a fresh replay of the log (nothing lost, nothing applied
twice)."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from api.runtime import read_models
from api.settings import Settings
from bench.faults.served import ROOT, Served, Worker, cli, issue_caller_key, settings_env

SKUS = [f"SKU-{n}" for n in range(1, 5)]
SPLIT = ("inventory", "orders")
REST = [p.name for p in read_models(None) if p.name not in SPLIT]


@pytest.fixture
def lean(settings: Settings) -> Settings:
    """Two pooled connections a process: five processes share a server other work uses too."""
    return settings.model_copy(update={"postgres_pool_size": 2})


@pytest.fixture
def key(lean: Settings) -> str:
    return issue_caller_key(lean)


@pytest.fixture
def servers(lean: Settings, key: str) -> Iterator[list[httpx.Client]]:
    """Two API processes that keep no read models (a read waits 2 s for a lagging one)."""
    off = {"run_projections": "false", "read_your_writes_timeout": "2"}
    with Served(lean, key, **off) as one, Served(lean, key, **off) as two:
        assert "not kept by this process" in one.log_text()
        with one.client() as first, two.client() as second:
            yield [first, second]


class Traffic:
    """Commands sent in turn to each server, each read back from the other at its position."""

    def __init__(self, servers: list[httpx.Client]) -> None:
        self.servers = servers
        self.sent = 0
        self.locked: Counter[str] = Counter()

    def command(self, path: str, body: dict[str, Any], status: int = 200) -> int:
        self.sent += 1
        client = self.servers[self.sent % 2]
        response = client.post(path, json=body, headers={"Idempotency-Key": f"k-{self.sent}"})
        assert response.status_code == status, response.text
        position: int = response.json()["position"]
        return position

    def read(self, path: str, position: int) -> Any:
        reader = self.servers[(self.sent + 1) % 2]  # not the one that took the command
        response = reader.get(path, params={"min_position": position})
        assert response.status_code == 200, response.text
        return response.json()

    def seed(self) -> None:
        self.command("/warehouses", {"code": "WH-1", "name": "Main"}, 201)
        for sku in SKUS:
            product = {"sku": sku, "name": sku, "make_or_buy": "buy", "list_price": "10",
                       "standard_cost": "6"}  # fmt: skip
            self.command("/products", product, 201)
            self.command("/stock/finished-goods-receipts", {"sku": sku, "warehouse": "WH-1",
                         "production_ref": f"MO-{sku}", "quantity": "1000"})  # fmt: skip
        self.command("/customers", {"code": "C-1", "name": "Customer", "billing_address": "a",
                     "shipping_address": "b", "region": "north", "payment_terms_days": 30},
                     201)  # fmt: skip

    def reserve(self, n: int) -> None:
        """A reservation, then its SKU's stock read back through the inventory model."""
        sku = SKUS[n % len(SKUS)]
        body = {"sku": sku, "warehouse": "WH-1", "order_ref": f"R-{n}", "quantity": "2"}
        position = self.command("/reservations", body)
        self.locked[sku] += 2
        stock = self.read(f"/inventory/{sku}", position)
        assert Decimal(stock["warehouses"][0]["locked"]) == self.locked[sku]

    def order(self, n: int) -> int:
        """An order taken and submitted (approved and reserved at once); its position."""
        sku = SKUS[n % len(SKUS)]
        order = {"number": f"SO-{n}", "customer": "C-1", "warehouse": "WH-1",
                 "salesperson": "ann", "lines": [{"sku": sku, "quantity": "1",
                 "unit_price": "9.5"}]}  # fmt: skip
        self.command("/sales-orders", order, 201)
        position = self.command(f"/sales-orders/SO-{n}/submit", {})
        self.locked[sku] += 1
        return position

    def order_seen(self, n: int, position: int) -> None:
        timeline = self.read(f"/sales-orders/SO-{n}/timeline", position)
        assert timeline["current"]["stage"] == "stock_confirmed"


def wait_until_caught_up(client: httpx.Client, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/healthz").json()
        if all(p["lag"] == 0 for p in health["projections"]):
            return
        assert time.monotonic() < deadline, health
        time.sleep(0.1)


def check_projections(settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli("audit", "check-projections"), cwd=ROOT, env=settings_env(settings),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.slow
def test_projection_workers_in_their_own_processes_serve_api_processes_that_run_none(
    lean: Settings, servers: list[httpx.Client]
) -> None:
    settings = lean
    traffic = Traffic(servers)
    with (
        Worker(settings, *SPLIT) as split,
        Worker(settings, *REST) as rest,
        Worker(settings, "inventory") as standby,
    ):
        traffic.seed()
        for n in range(12):
            traffic.reserve(n)
            traffic.order_seen(n, traffic.order(n))

        assert split.kill() == -9  # mid-run: the stand-by keeps inventory current
        unseen = {n: traffic.order(n) for n in range(12, 18)}
        for n in range(12, 24):
            traffic.reserve(n)
        timeline = "/sales-orders/SO-17/timeline"
        lagging = servers[0].get(timeline, params={"min_position": unseen[17]})
        assert lagging.status_code == 503  # nobody keeps the orders model now

        with Worker(settings, *SPLIT):  # restarted, it resumes where the killed one was
            for n, position in unseen.items():
                traffic.order_seen(n, position)
            for n in range(24, 30):
                traffic.reserve(n)
            wait_until_caught_up(servers[0])
            for worker in (rest, standby):
                assert worker.terminate() == 0, worker.log_text()
                assert "SIGTERM received" in worker.log_text()
                assert "stopped at" in worker.log_text()

    checked = check_projections(settings)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"of {len(SPLIT) + len(REST)} read models equal a replay" in checked.stdout
