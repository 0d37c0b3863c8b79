"""What the log filters mask, on records passed through a real handler."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from api.log_privacy import RedactSecrets, private_target, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOi.J9.x-y_z", "Authorization: [redacted] [redacted]"),
        ("sent bearer olk_AbC123", "sent bearer [redacted]"),
        ("key olk_live_9f8e7d revoked", "key olk_[redacted] revoked"),
        ("X-API-Key=abc123&limit=5", "X-API-Key=[redacted]&limit=5"),
        ('{"password": "hunter2", "user": "ann"}', '{"password": "[redacted]", "user": "ann"}'),
        (
            "https://hooks.example/in?token=s3cr3t&x=1",
            "https://hooks.example/in?token=[redacted]&x=1",
        ),
        ("postgresql://app:pw@db:5432/ledger", "postgresql://app:[redacted]@db:5432/ledger"),
        ("mail to ann.lee+orders@mail.example.co.uk", "mail to [email]@mail.example.co.uk"),
        ("/customers/ann%40example.com/statement", "/customers/[email]@example.com/statement"),
        ("order SO-1 for C-1 at WH-1 shipped", "order SO-1 for C-1 at WH-1 shipped"),
    ],
)
def test_credentials_and_addresses_are_masked_and_nothing_else(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_the_access_log_keeps_only_plain_query_values() -> None:
    assert private_target("/orders") == "/orders"
    assert private_target("/sales-orders?salesperson=Ann%20Lee&limit=5&after=9&flag") == (
        "/sales-orders?salesperson=[redacted]&limit=5&after=9&flag"
    )


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    made = logging.getLogger("tests.log_privacy")
    made.addHandler(handler)
    made.propagate = False
    yield made, stream
    made.removeHandler(handler)


def test_a_secret_split_between_format_and_arguments_is_masked(
    logger: tuple[logging.Logger, io.StringIO],
) -> None:
    log, stream = logger
    log.warning("retry with token=%s for %s", "olk_x1", "SO-1")
    log.warning("as %(who)s", {"who": "ann@example.com"})
    try:
        raise ValueError("password=hunter2")
    except ValueError:
        log.exception("failed")
    assert stream.getvalue().splitlines()[:3] == [
        "WARNING retry with token=[redacted] for SO-1",
        "WARNING as [email]@example.com",
        "ERROR failed",
    ]
    assert "ValueError: password=[redacted]" in stream.getvalue()
    assert "hunter2" not in stream.getvalue()
