"""A controllable clock for the recorded time of events (the library stamps each event with
`eventsourcing.domain.datetime_now_with_tzinfo()` when it is triggered)."""

from __future__ import annotations

from datetime import datetime

import pytest


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, start: datetime) -> None:
        self.now = start
        monkeypatch.setattr("eventsourcing.domain.datetime_now_with_tzinfo", lambda: self.now)

    def set(self, when: datetime) -> datetime:
        self.now = when
        return when
