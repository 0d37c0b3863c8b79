"""Matching rules as data: which automatic matching rules run, in what order, with what
fuzzy threshold and tolerance. Published as versions of one `MatchingRules` aggregate.

A rules document is
    {"rules": [{"rule": "invoice_reference"},
               {"rule": "exact_amount_customer", "threshold": 90},
               {"rule": "oldest_open_items", "threshold": 90,
                "tolerance_amount": "1.00", "tolerance_percent": "0.5"}],
     "description": "…"}
Each rule appears at most once; the list order is the order the rules run in; a rule may be
switched off with `"enabled": false` (or left out). Until a version is published the
defaults above are in force.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import InvalidInput
from domain.values import money, stable_id
from domain.versioned import VersionedDocument

INVOICE_REFERENCE = "invoice_reference"
EXACT_AMOUNT_CUSTOMER = "exact_amount_customer"
OLDEST_OPEN_ITEMS = "oldest_open_items"
RULES = (INVOICE_REFERENCE, EXACT_AMOUNT_CUSTOMER, OLDEST_OPEN_ITEMS)
NAMED_RULES = (EXACT_AMOUNT_CUSTOMER, OLDEST_OPEN_ITEMS)  # they identify the payer by name
MATCHING_RULES_ID = stable_id("matching-rules", "default")

DEFAULT_THRESHOLD = 90
MIN_THRESHOLD = 50  # below this a fuzzy "match" is mostly chance
DEFAULT_TOLERANCE_AMOUNT = Decimal("1.00")
DEFAULT_TOLERANCE_PERCENT = Decimal("0.5")
MAX_TOLERANCE_PERCENT = Decimal(10)
PARAMETERS = {
    INVOICE_REFERENCE: {"rule", "enabled"},
    EXACT_AMOUNT_CUSTOMER: {"rule", "enabled", "threshold"},
    OLDEST_OPEN_ITEMS: {"rule", "enabled", "threshold", "tolerance_amount", "tolerance_percent"},
}


def default_rules() -> dict[str, Any]:
    """The rules in force until a version is published: all three, in the fixed order."""
    return {
        "rules": [
            {"rule": INVOICE_REFERENCE, "enabled": True},
            {"rule": EXACT_AMOUNT_CUSTOMER, "enabled": True, "threshold": DEFAULT_THRESHOLD},
            {
                "rule": OLDEST_OPEN_ITEMS,
                "enabled": True,
                "threshold": DEFAULT_THRESHOLD,
                "tolerance_amount": DEFAULT_TOLERANCE_AMOUNT,
                "tolerance_percent": DEFAULT_TOLERANCE_PERCENT,
            },
        ],
        "description": "built-in defaults",
    }


def validate_rules(raw: Any) -> dict[str, Any]:
    """A clean copy of a rules document, or InvalidInput naming the first problem."""
    if not isinstance(raw, dict) or set(raw) - {"rules", "description"}:
        raise InvalidInput("matching rules are an object with a list of rules (and a description)")
    rules = raw.get("rules")
    if not isinstance(rules, list):
        raise InvalidInput("rules must be a list")
    clean: list[dict[str, Any]] = []
    for entry in rules:
        rule = _rule(entry)
        if any(seen["rule"] == rule["rule"] for seen in clean):
            raise InvalidInput(f"rule {rule['rule']!r} is listed twice")
        clean.append(rule)
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise InvalidInput("description must be text of at most 2000 characters")
    return {"rules": clean, "description": description}


def _rule(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("rule"), str):
        raise InvalidInput('each rule is an object naming its rule: {"rule": …}')
    name = entry["rule"]
    if name not in PARAMETERS:
        raise InvalidInput(f"unknown matching rule {name!r}; known: {', '.join(RULES)}")
    unknown = sorted(set(entry) - PARAMETERS[name])
    if unknown:
        raise InvalidInput(f"rule {name!r} takes no parameter {unknown[0]!r}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise InvalidInput(f"rule {name!r}: enabled must be true or false")
    rule: dict[str, Any] = {"rule": name, "enabled": enabled}
    if name in NAMED_RULES:
        rule["threshold"] = _threshold(entry.get("threshold", DEFAULT_THRESHOLD), name)
    if name == OLDEST_OPEN_ITEMS:
        rule["tolerance_amount"] = _limit(
            entry.get("tolerance_amount", DEFAULT_TOLERANCE_AMOUNT), name, "tolerance_amount"
        )
        rule["tolerance_percent"] = _limit(
            entry.get("tolerance_percent", DEFAULT_TOLERANCE_PERCENT), name, "tolerance_percent"
        )
        percent = rule["tolerance_percent"]
        if percent is not None and percent > MAX_TOLERANCE_PERCENT:
            raise InvalidInput(
                f"rule {name!r}: tolerance_percent is at most {MAX_TOLERANCE_PERCENT},"
                f" got {percent}"
            )
    return rule


def _threshold(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(f"rule {name!r}: threshold must be a whole number, got {value!r}")
    if not MIN_THRESHOLD <= value <= 100:
        raise InvalidInput(
            f"rule {name!r}: threshold must be from {MIN_THRESHOLD} to 100, got {value}"
        )
    return value


def _limit(value: Any, name: str, what: str) -> Decimal | None:
    """A tolerance limit: a non-negative decimal, or null for no such limit."""
    if value is None:
        return None
    return money(value, f"rule {name!r} {what}")


class MatchingRules(VersionedDocument, Aggregate):
    """Every published version of the matching rules (one aggregate, a well-known id)."""

    @staticmethod
    def create_id() -> UUID:
        return MATCHING_RULES_ID

    @event("Published")
    def __init__(self, rules: dict[str, Any]) -> None:
        self.versions: list[dict[str, Any]] = [rules]

    def publish(self, rules: dict[str, Any]) -> None:
        self._revised(rules)

    @event("Revised")
    def _revised(self, rules: dict[str, Any]) -> None:
        self.versions.append(rules)
