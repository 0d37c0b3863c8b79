"""What every aggregate that keeps versions of a document (approval rules, matching rules)
shares: the list of versions, the latest number, the current one, and a copy for a decision.
The events stay on each aggregate, so their stored topics are each aggregate's own."""

from __future__ import annotations

from typing import Any, Self


class VersionedDocument:
    versions: list[dict[str, Any]]
    _pending_events: list[Any]

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        copied = object.__new__(type(self))
        copied.__dict__.update(self.__dict__)
        copied.versions = list(self.versions)
        copied._pending_events = list(self._pending_events)
        return copied

    @property
    def latest(self) -> int:
        return len(self.versions)

    @property
    def current(self) -> dict[str, Any]:
        return self.versions[-1]
