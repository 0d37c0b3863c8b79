"""Warehouses: the places stock is held."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.values import stable_id


class Warehouse(Aggregate):
    """A stocking location identified by a short code."""

    @staticmethod
    def create_id(code: str) -> UUID:
        return stable_id("warehouse", code)

    @event("Registered")
    def __init__(self, code: str, name: str, address: str) -> None:
        self.code = code
        self.name = name
        self.address = address
