"""Events are written byte for byte as the library's own transcoder writes them, and decode
exactly as it decodes them."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoding,
    UUIDAsHex,
)
from hypothesis import given
from hypothesis import strategies as st

from domain.transcoding import DateAsISO, OrjsonDecodingTranscoder, OrjsonTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


LIBRARY = registered(JSONTranscoder())
FAST = registered(OrjsonDecodingTranscoder())
WRITER = registered(OrjsonTranscoder())
for dated in (LIBRARY, WRITER):
    dated.register(DateAsISO())

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


@dataclass
class Unregistered:
    name: str


# Everything an event's state may hold, and things it should not (floats, huge integers,
# non-string keys, unregistered objects), for which both must agree too.
any_leaves = st.one_of(
    leaves,
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3),
    st.integers(),
    st.dates(),
    st.from_regex(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", fullmatch=True),
    st.from_regex(r"[0-9]{1,3}(e-[0-9]|\.0000[0-9])", fullmatch=True),
    st.sampled_from([Unregistered("x"), {1, 2}, b"bytes", (1, "a")]),
)
any_values = st.recursive(
    any_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["_type_", "_data_", "a", "ü", "\n"]), inner, max_size=3),
        st.dictionaries(st.one_of(st.integers(), st.none(), st.booleans()), inner, max_size=2),
    ),
    max_leaves=20,
)


def written(transcoder: JSONTranscoder, value: Any) -> Any:
    """The bytes written, or the kind of error writing fails with."""
    try:
        return transcoder.encode(value)
    except Exception as error:
        return type(error)


@given(any_values)
def test_any_state_is_written_byte_for_byte_as_the_library_writes_it(value: Any) -> None:
    assert written(WRITER, value) == written(LIBRARY, value)


@given(st.integers(min_value=0, max_value=2**64 - 1))
def test_every_float_is_written_as_python_writes_it(bits: int) -> None:
    number = struct.unpack("d", struct.pack("Q", bits))[0]
    if number == number and abs(number) != float("inf"):
        state = {"a": number, "b": [number, -number]}
        assert WRITER.encode(state) == LIBRARY.encode(state)


def test_a_typical_order_event_is_written_by_orjson_and_read_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    state = {
        "timestamp": datetime(2026, 11, 25, 9, 30, tzinfo=UTC),
        "lines": [{"line_no": 1, "sku": "SKU-1", "quantity": Decimal("2"), "unit_price": None}],
        "requested_delivery": date(2026, 12, 1),
        "meta": {"actor": "ann", "correlation_id": "c0ffee", "command": "create_sales_order"},
        "note": 'control \x01, quote " and non-ASCII ü 漢 \u2028 text',
    }
    expected = LIBRARY.encode(state)

    def refuse(self: JSONTranscoder, obj: Any) -> bytes:
        raise AssertionError("took the library's path")

    monkeypatch.setattr(JSONTranscoder, "encode", refuse)
    data = WRITER.encode(state)
    assert data == expected
    assert WRITER.decode(data) == state


def test_states_orjson_would_write_otherwise_take_the_librarys_path() -> None:
    uuid = UUID("12345678123456781234567812345678")
    for state in ({"id": uuid}, {"f": 1.5e-05}, {"f": 4.8e-06}, {1: "a"}, {"n": 2**70}):
        assert WRITER.encode(state) == LIBRARY.encode(state)
    assert WRITER.decode(WRITER.encode({"id": uuid})) == {"id": uuid}


@given(st.datetimes(timezones=st.just(UTC)))
def test_utc_datetimes_are_written_as_isoformat_writes_them(moment: datetime) -> None:
    state = {"at": moment, "nested": [{"at": moment}]}
    assert WRITER.encode(state) == LIBRARY.encode(state)
    assert WRITER.decode(WRITER.encode(state)) == state


@given(st.datetimes(timezones=st.timezones()))
def test_datetimes_in_other_time_zones_are_written_as_the_library_writes_them(
    moment: datetime,
) -> None:
    assert written(WRITER, {"at": moment}) == written(LIBRARY, {"at": moment})


class Colour(Enum):
    RED = "red"


class ColourAsName(Transcoding):
    type = Colour
    name = "colour"

    def encode(self, obj: Colour) -> str:
        return obj.name

    def decode(self, data: str) -> Colour:
        return Colour[data]


def test_a_registered_enum_is_written_as_the_library_writes_it() -> None:
    library, writer = registered(JSONTranscoder()), registered(OrjsonTranscoder())
    for transcoder in (library, writer):
        transcoder.register(ColourAsName())
    state = {"colour": Colour.RED, "at": datetime(2026, 11, 25, tzinfo=UTC)}
    assert writer.encode(state) == library.encode(state)
    assert writer.decode(writer.encode(state)) == state
