"""Events decode exactly as the library's own transcoder would decode them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from domain.transcoding import OrjsonDecodingTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = registered(JSONTranscoder())
FAST = registered(OrjsonDecodingTranscoder())

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.text(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["_type_", "_data_", "a", "b", "ü"]), inner, max_size=3),
    ),
    max_leaves=20,
)


def outcome(transcoder: JSONTranscoder, data: bytes) -> Any:
    """What decoding gives, or the kind of error it fails with: both must agree."""
    try:
        return transcoder.decode(data)
    except Exception as error:  # e.g. TypeError for a non-string "_type_", in both
        return type(error)


@given(values)
def test_any_event_state_decodes_as_the_library_decodes_it(value: Any) -> None:
    data = LIBRARY.encode(value)
    assert outcome(FAST, data) == outcome(LIBRARY, data)


def test_typed_values_come_back_as_their_types() -> None:
    state = {
        "id": UUID("12345678123456781234567812345678"),
        "quantity": Decimal("12.500"),
        "at": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "lines": [{"sku": "A", "quantity": Decimal("1")}],
    }
    assert FAST.decode(LIBRARY.encode(state)) == state
