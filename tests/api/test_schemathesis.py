"""Schemathesis against the app's own OpenAPI description, on SQLite and PostgreSQL.

An administrator's key (every permission) calls every operation on a ledger loaded with the
demo data set, in two passes:

- coverage: schemathesis' deterministic cases from each operation's description — boundary
  values, missing and wrong-typed fields, values the description forbids;
- generation: hypothesis examples, derandomised: valid data and invalid data.

Each pass sends its valid cases once more with path ids that name the demo's own records,
so that calls reach real orders, invoices, payments and stock rather than only 404s.

No answer may be a 5xx, and every answer must be one the description documents: its status
code, media type and schema (api/openapi.py documents the problem+json refusals).
Bounded for `make test`: examples per operation scale with the hypothesis profile.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.demo import load_demo
from api.runtime import Runtime, open_runtime
from api.settings import Settings
from tests.api.conftest import TestClient
from tests.conftest import command_meta

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# A live order stream stays open for new events: it is read up to its first event, or for
# this long when it has none to send.
STREAM_SECONDS = 1.0
REQUEST_SECONDS = 10.0
FUZZER = "fuzz.admin"
# Needs one of from_position / from_time and one of to_position / to_time: a pairing the
# description cannot state, so generated calls seldom name a valid one (422 is right).
NEEDS_TWO_MOMENTS = {"GET /audit/diff"}


@pytest.fixture
def running(settings: Settings) -> Iterator[Runtime]:
    """The runtime with its projections running; the app is given it, so it stays open for
    the whole test. Failed sign-ins are answered at once: the fuzzer makes many."""
    opened = open_runtime(settings.model_copy(update={"sign_in_failure_delay_seconds": 0}))
    try:
        yield opened
    finally:
        opened.close()


def seed(runtime: Runtime) -> tuple[str, dict[str, Any]]:
    """The demo data set, the fuzzer's admin key, and a second user whose name and key id
    the user routes are given — so the fuzzer never disables itself or revokes its own key."""
    load_demo(runtime.ledger, skus=10)
    meta = command_meta("setup", actor="setup")
    runtime.access.create_user(meta, name=FUZZER, role="admin")
    runtime.access.create_user(meta, name="demo.sales", role="sales")
    _, other = runtime.access.issue_key(meta, name="demo.sales")
    _, key = runtime.access.issue_key(meta, name=FUZZER)
    return key, {"username": "demo.sales", "key_id": other.split("_")[1]}


def demo_ids(client: TestClient, key: str) -> dict[str, Any]:
    """Ids of the demo's records, read through the API: `name` or `name:resource`."""
    headers = {"Authorization": f"Bearer {key}"}
    head = client.get("/healthz").json()["head"]

    def first(path: str, field: str) -> Any:
        response = client.get(path, headers=headers, params={"min_position": head})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert items, f"the demo has no {path}"
        return items[0][field]

    return {
        "sku": first("/inventory", "sku"),  # a stock item: a SKU held in a warehouse
        "warehouse": first("/inventory", "warehouse"),
        "code": first("/sales-orders", "customer"),
        "number:sales-orders": first("/sales-orders", "number"),
        "number:purchase-orders": first("/purchase-orders", "number"),
        "number:production-orders": first("/production-orders", "number"),
        "number:invoices": first("/invoices", "number"),
        "receivable_id": first("/receivables", "receivable_id"),
        "bank_ref": first("/payments/unapplied", "bank_ref"),
        "notification_id": first("/notifications", "id"),
        "name": "standard",
        "version": 1,
    }


def path_ids(path: str, known: dict[str, Any]) -> dict[str, Any]:
    """Known values for every path parameter of `path`, or none: a parameter is looked up
    with the resource before it (`/invoices/{number}` → `number:invoices`), then alone."""
    found = {}
    for resource, name in re.findall(r"(?:/([\w-]+))?/\{(\w+)\}", path):
        value = known.get(f"{name}:{resource}", known.get(name))
        if value is None:
            return {}
        found[name] = value
    return found


class Fuzzer:
    """Calls operations and keeps what failed, and which statuses came back."""

    def __init__(self, schema: Any, key: str, known: dict[str, Any]) -> None:
        self.schema, self.known = schema, known
        # Sent with every call, over any credential a generated case carries (coverage
        # cases probe missing credentials too: that 401 is tested in test_security.py).
        self.auth = {"Authorization": f"Bearer {key}"}
        self.failures: list[str] = []
        self.statuses: Counter[int] = Counter()
        self.unauthenticated = 0  # the fuzzer's own key refused (sign-in's 401 aside)
        self.succeeded: set[str] = set()

    def call(self, case: Any) -> None:
        stream = case.operation.path.endswith("/stream")
        timeout = STREAM_SECONDS if stream else REQUEST_SECONDS
        response = case.call(headers=self.auth, timeout=timeout)
        self.statuses[response.status_code] += 1
        if response.status_code == 401 and case.operation.path != "/auth/sign-in":
            self.unauthenticated += 1
        if response.status_code < 300:
            self.succeeded.add(case.operation.label)
        case.validate_response(response, checks=CHECKS, headers=self.auth)

    def collect(self, operation: Any, run: Callable[[], None]) -> None:
        try:
            run()
        except (Exception, BaseExceptionGroup) as error:
            # The exception's notes hold a curl command that reproduces the call.
            text = "".join(traceback.format_exception_only(error))
            self.failures.append(f"{operation.label}: {text}")

    def coverage(self, operation: Any) -> None:
        """Every case schemathesis derives from the description, each once; and its valid
        cases again on the demo's records where the path's ids are known."""
        ids = path_ids(operation.path, self.known)

        def run() -> None:
            for case in self._coverage_cases(operation, list(GenerationMode)):
                self.call(case)
            for case in self._coverage_cases(operation, [GenerationMode.POSITIVE] if ids else []):
                case.path_parameters = {**case.path_parameters, **ids}
                self.call(case)

        self.collect(operation, run)

    def _coverage_cases(self, operation: Any, modes: list[GenerationMode]) -> Iterator[Any]:
        if not modes:
            return iter(())
        config = self.schema.config.generation_for(operation=operation)
        cases: Iterator[Any] = self.schema.iter_coverage_cases(
            operation, generation_modes=modes, generation_config=config
        )
        return cases

    def generation(self, operation: Any, examples: int) -> None:
        """`examples` hypothesis examples of valid and invalid data, and as many more of
        valid data on the demo's records where the path's ids are known; shrunk to the
        smallest failing call."""
        self.collect(
            operation, self._examples(examples, *map(operation.as_strategy, GenerationMode))
        )
        ids = path_ids(operation.path, self.known)
        if ids:
            self.collect(
                operation, self._examples(examples, operation.as_strategy(path_parameters=ids))
            )

    def _examples(self, examples: int, *strategies: Any) -> Callable[[], None]:
        @hypothesis.settings(
            max_examples=examples,
            derandomize=True,
            database=None,
            deadline=None,
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=st.one_of(strategies))
        def run(case: Any) -> None:
            self.call(case)

        return run


def reachable(path: str, known: dict[str, Any]) -> bool:
    return "{" not in path or bool(path_ids(path, known))


def examples_per_operation() -> int:
    """A fifteenth of the profile's examples (2 for `dev`, 4 for `ci`): there are 130."""
    return max(2, hypothesis.settings.default.max_examples // 15)


@pytest.mark.slow
def test_no_operation_answers_5xx_or_against_its_description(
    settings: Settings, running: Runtime
) -> None:
    key, others = seed(running)
    app = create_app(running.settings, runtime=running)
    with TestClient(app) as client:
        known = {**demo_ids(client, key), **others}
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        # Not every method on every path: those 405s are the router's, and the checks
        # skip them anyway (a tenth of the calls).
        schema.config.phases.coverage.unexpected_methods = set()
        schema.config.max_stream_events = 1
        fuzzer = Fuzzer(schema, key, known)
        operations = [result.ok() for result in schema.get_all_operations()]
        for operation in operations:
            fuzzer.coverage(operation)
            fuzzer.generation(operation, examples_per_operation())
        me = client.get("/auth/me", headers={"Authorization": f"Bearer {key}"})

    assert not fuzzer.failures, "\n\n".join(fuzzer.failures)
    # The calls reached the app as the administrator, and reached real records: every read
    # whose path ids the demo provides answered 2xx at least once.
    assert (me.status_code, me.json()["username"]) == (200, FUZZER)
    assert fuzzer.unauthenticated == 0, fuzzer.statuses
    reads = {o.label for o in operations if o.method.upper() == "GET" and reachable(o.path, known)}
    assert reads - fuzzer.succeeded - NEEDS_TWO_MOMENTS == set(), fuzzer.statuses
