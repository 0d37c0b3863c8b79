"""Statement upload over HTTP (multipart) on real SQLite and PostgreSQL: 201 with the
summary, 200 for the same file again, 422 naming every bad line, 413 past the size limit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import Settings
from tests.api.conftest import Api, assert_problem, open_api
from tests.conftest import drop_schemas, make_settings
from tests.statement_files import (
    BAD_LINES_CSV,
    BROKEN_XML,
    CAMT02,
    CAMT08,
    GERMAN_CSV,
    GERMAN_MAP,
    line_of,
)


def upload(
    api: Api, path: Path, data: bytes | None = None, headers: dict[str, str] | None = None,
    **fields: str,
) -> httpx.Response:  # fmt: skip
    content = path.read_bytes() if data is None else data
    files = {"file": (path.name, content, "application/octet-stream")}
    return api.client.post("/bank-statements", files=files, data=fields, headers=headers)


def imported(response: httpx.Response, status: int = 201) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert response.headers["Location"] == f"/bank-statements/{body['statement_id']}"
    assert response.headers["X-Log-Position"] == str(body["position"])
    return body


def test_an_uploaded_camt_statement_is_imported_listed_and_shown(api: Api) -> None:
    first = imported(upload(api, CAMT02))
    assert (first["format"], first["imported"], first["debits_skipped"],
            first["pending_skipped"]) == ("camt053", 5, 1, 1)  # fmt: skip
    assert (first["matched_by_rule"], first["unmatched"]) == ({}, 5)
    payment = api.read(f"/payments/{first['bank_refs_imported'][0]}")
    assert (payment["payer"], payment["amount"]) == ("Contoso Ltd", "1190.00")

    column_map = GERMAN_MAP.read_text("utf-8")
    second = imported(upload(api, GERMAN_CSV, column_map=column_map))
    assert (second["format"], second["imported"], second["totals"]) == (
        "csv", 3, {"EUR": "13734.56"},
    )  # fmt: skip

    listed = api.read("/bank-statements", min_position=second["position"])
    assert [s["statement_id"] for s in listed["items"]] == [
        second["statement_id"], first["statement_id"],
    ]  # fmt: skip
    paged = api.read("/bank-statements", limit=1)
    assert paged["next_cursor"] == listed["items"][0]["position"]
    rest = api.read("/bank-statements", limit=1, after=paged["next_cursor"])
    assert [s["file_name"] for s in rest["items"]] == ["camt053-001-02.xml"]

    shown = api.read(f"/bank-statements/{first['statement_id']}")
    assert {k: shown[k] for k in ("imported", "bank_refs_imported", "unmatched")} == {
        k: first[k] for k in ("imported", "bank_refs_imported", "unmatched")
    }
    assert shown["imported_at"]


def test_the_same_file_again_answers_200_and_stores_nothing(api: Api) -> None:
    first = imported(upload(api, CAMT08))
    head = api.head()

    again = imported(upload(api, CAMT08), 200)

    assert api.head() == head
    assert again["statement_id"] == first["statement_id"]
    assert (again["already_imported"], again["imported"], again["duplicates_skipped"]) == (
        True, 0, 2,
    )  # fmt: skip


def test_a_bad_file_is_a_problem_naming_the_first_line_and_listing_all(api: Api) -> None:
    head = api.head()
    response = upload(api, BAD_LINES_CSV)
    body = assert_problem(response, 422, "invalid-statement")
    assert body["detail"] == "line 4: amount '12,3x' is not a number (and 2 more bad lines)"
    assert body["errors"] == [
        {"line": 4, "error": "amount '12,3x' is not a number"},
        {"line": 6, "error": "currency 'EUX' is not an ISO 4217 code"},
        {"line": 7, "error": "value date '2026-13-01' does not match %Y-%m-%d"},
    ]
    broken = assert_problem(upload(api, BROKEN_XML), 422, "invalid-statement")
    line = line_of(BROKEN_XML, "</Ref>", whole=True)
    assert broken["errors"] == [
        {"line": line, "error": "the XML is not well-formed: mismatched tag"}
    ]
    assert api.head() == head


def test_skip_bad_lines_imports_the_rest_over_http(api: Api) -> None:
    body = imported(upload(api, BAD_LINES_CSV, skip_bad_lines="true"))
    assert (body["imported"], [b["line"] for b in body["bad_lines"]]) == (3, [4, 6, 7])


@pytest.mark.parametrize(
    ("fields", "field"),
    [({"format": "mt940"}, "format"), ({"skip_bad_lines": "maybe"}, "skip_bad_lines")],
)
def test_bad_form_fields_are_refused(api: Api, fields: dict[str, str], field: str) -> None:
    body = assert_problem(upload(api, CAMT08, **fields), 422, "invalid-input")
    assert body["errors"][0]["field"] == field


def test_a_bad_column_map_or_forced_format_is_refused(api: Api) -> None:
    body = assert_problem(upload(api, GERMAN_CSV, column_map='{"delimiter": ";;"}'), 422,
                          "invalid-input")  # fmt: skip
    assert body["detail"] == "column map: delimiter: String should have at most 1 character"
    body = assert_problem(upload(api, GERMAN_CSV, format="camt053"), 422, "invalid-statement")
    assert body["detail"].startswith("line 1: the XML is not well-formed")
    no_file = api.client.post("/bank-statements", files={"format": (None, "csv")})
    assert assert_problem(no_file, 422, "invalid-input")["errors"][0]["field"] == "file"
    assert api.head() == 0


def test_an_upload_that_is_not_a_form_is_refused(api: Api) -> None:
    response = api.client.post(
        "/bank-statements", content=CAMT08.read_bytes(), headers={"Content-Type": "text/xml"}
    )
    body = assert_problem(response, 415, "unsupported-media-type")
    assert body["detail"] == "send the body as multipart/form-data, not text/xml"


def test_a_retried_upload_with_its_idempotency_key_answers_the_first_result(api: Api) -> None:
    key = {"Idempotency-Key": "upload-2026-03-19"}
    first = imported(upload(api, CAMT08, headers=key))
    again = upload(api, CAMT08, headers=key)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["imported"] == first["imported"] == 2
    other = upload(api, CAMT02, headers=key)
    assert_problem(other, 422, "idempotency-key-reused")
    # The same file asked to be imported without matching is another request too.
    unmatched = upload(api, CAMT08, headers=key, auto_match="false")
    assert_problem(unmatched, 422, "idempotency-key-reused")


def test_an_unknown_statement_is_a_404_problem(api: Api) -> None:
    assert_problem(api.get("/bank-statements/6f1e0c2e-8a43-4f5e-9d7b-1f2e3d4c5b6a"), 404,
                   "not-found")  # fmt: skip
    assert_problem(api.get("/bank-statements/not-a-uuid"), 422, "invalid-input")


@pytest.fixture
def small_limit(store_kind: str, tmp_path: Path) -> Iterator[Api]:
    """Statements limited to 4,000 bytes (uploads to that plus the form's overhead)."""
    settings: Settings = make_settings(store_kind, tmp_path, statement_max_bytes=4000)
    try:
        with open_api(settings) as opened:
            yield opened
    finally:
        if settings.is_postgres:
            drop_schemas(settings)


def test_an_oversized_statement_is_a_413_problem(small_limit: Api) -> None:
    data = CAMT08.read_bytes()
    assert len(data) > 4000
    body = assert_problem(upload(small_limit, CAMT08), 413, "statement-too-large")
    assert body["detail"] == f"the file is {len(data)} bytes; statements are limited to 4000 bytes"

    huge = data * 100  # past the route's own body limit: refused before it is read
    body = assert_problem(upload(small_limit, CAMT08, data=huge), 413, "body-too-large")
    assert small_limit.head() == 0
