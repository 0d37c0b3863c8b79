"""`GET /audit/export` over the real app on SQLite and PostgreSQL: a zip that verifies."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from replay.bundle_verify import verify_bundle
from tests.api.conftest import Api, assert_problem
from tests.api.test_audit import linked


def test_the_export_is_a_zip_bundle_that_verifies(api: Api, tmp_path: Path) -> None:
    head = linked(api, 5)
    response = api.get("/audit/export", to_position=3)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(response.content)
    result = verify_bundle(bundle)
    assert (result.events, result.last_position, result.key_fingerprint) == (3, 3, None)
    assert response.headers["X-Bundle-Head-Hash"] == result.head_hash.hex()
    names = set(zipfile.ZipFile(io.BytesIO(response.content)).namelist())
    assert {"events.jsonl", "chain.jsonl", "README.md", "verify_bundle.py"} <= names
    everything = api.get("/audit/export")
    assert everything.status_code == 200
    whole = tmp_path / "whole.zip"
    whole.write_bytes(everything.content)
    assert verify_bundle(whole).last_position == head


def test_an_unknown_position_or_future_time_is_a_problem(api: Api) -> None:
    linked(api, 2)
    assert_problem(api.get("/audit/export", to_position=99), 422, "unknown-position")
    assert_problem(api.get("/audit/export", at="2999-01-01T00:00:00Z"), 422, "future-time")
