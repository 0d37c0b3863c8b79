"""Stored events in the library's JSON format, written and parsed with orjson.

What is stored stays byte-for-byte what the library's own encoder writes. orjson writes the
same JSON for strings, integers, lists and dicts, and hands datetimes, dates, Decimals and
dataclasses to the library's typed-object hook; the few things it writes differently are
recognisable in its output, and those states are encoded by the library instead (see
`OrjsonTranscoder.encode`).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any

import orjson
from eventsourcing.persistence import DatetimeAsISO, JSONTranscoder, Transcoding


class DateAsISO(Transcoding):
    """Business dates (requested delivery, promised date) as ISO text."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class OrjsonDecodingTranscoder(JSONTranscoder):
    """The library's JSONTranscoder, decoding with orjson and reviving typed objects
    (`{"_type_": …, "_data_": …}`) bottom-up, exactly as its object hook does."""

    def decode(self, data: bytes) -> Any:
        value = orjson.loads(data)
        if type(value) is dict:
            return self._revive_dict(value)
        if type(value) is list:
            return self._revive_list(value)
        return value

    def _revive_dict(self, d: dict[str, Any]) -> Any:
        for key, value in d.items():
            kind = type(value)
            if kind is dict:
                d[key] = self._revive_leaf(value)
            elif kind is list:
                d[key] = self._revive_list(value)
        return self._decode_obj(d) if len(d) == 2 else d

    def _revive_leaf(self, d: dict[str, Any]) -> Any:
        """Most nested objects are typed scalars (`{"_type_": "decimal", "_data_": "1.5"}`):
        decoded at once, without walking their items; anything else as `_revive_dict`."""
        if len(d) == 2:
            data = d.get("_data_")
            if type(data) is str:
                transcoding = self.names.get(d.get("_type_"))  # type: ignore[arg-type]
                if transcoding is not None:
                    return transcoding.decode(data)
        return self._revive_dict(d)

    def _revive_list(self, items: list[Any]) -> list[Any]:
        for index, value in enumerate(items):
            kind = type(value)
            if kind is dict:
                items[index] = self._revive_leaf(value)
            elif kind is list:
                items[index] = self._revive_list(value)
        return items


# orjson writes a UUID natively, as hyphenated text (the library writes a typed object): its
# middle groups are looked for. A string that merely looks like one is encoded by the library.
_UUID_TEXT = re.compile(rb"-[0-9a-f]{4}-[0-9a-f]{4}-")
# Floats where orjson's text differs from Python's repr: 1.5e-05 is written 0.000015, and
# 4.8e-06 as 4.8e-6 (a one-digit negative exponent). Every other float is written alike.
_FLOAT_TEXT = re.compile(rb"\de-\d(?!\d)|(?:^|[:\[,])-?0\.0000")
_PASS_TO_HOOK = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


class OrjsonTranscoder(OrjsonDecodingTranscoder):
    """Encodes with orjson where that writes exactly the library's bytes, else with the
    library's encoder: states holding UUIDs, some floats, integers beyond 64 bits, non-string
    keys or anything orjson refuses take the library's path, and fail there as they would.
    orjson writes enum members as their values without asking the hook: once a transcoding
    for an `Enum` type is registered, every state takes the library's path. One difference is
    left: an unregistered plain `Enum` member (no event state holds one) is written as its
    value where the library would refuse it."""

    def __init__(self) -> None:
        super().__init__()
        self._library_only = False

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        if issubclass(transcoding.type, Enum):
            self._library_only = True

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        # A UTC datetime (every event's timestamp, most business times) in the library's
        # typed form: orjson's text for it is isoformat()'s, at a tenth of the cost, which
        # was most of what encoding an event cost.
        registered = self.types.get(datetime)
        if type(o) is datetime and o.tzinfo is UTC and type(registered) is DatetimeAsISO:
            return {"_type_": DatetimeAsISO.name, "_data_": orjson.dumps(o)[1:-1].decode()}
        return super()._encode_obj(o)

    def encode(self, obj: Any) -> bytes:
        if self._library_only:
            return super().encode(obj)
        try:
            data = orjson.dumps(obj, default=self._encode_obj, option=_PASS_TO_HOOK)
        except orjson.JSONEncodeError:
            return super().encode(obj)
        if _UUID_TEXT.search(data) is not None:
            return super().encode(obj)
        if (b"e-" in data or b"0.0000" in data) and _FLOAT_TEXT.search(data) is not None:
            return super().encode(obj)
        return data
