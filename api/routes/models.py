"""Base for request bodies: unknown fields are refused, so typos never pass silently."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
