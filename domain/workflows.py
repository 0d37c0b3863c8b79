"""Workflow definitions and approval policies: the order process as versioned data.

A workflow definition names the stages an order passes through, the transitions between
them, the role responsible for each stage, its SLA and the actions run on entering it.
Transitions fire on *triggers*: business facts the order centre reports (`submitted`,
`approved`, `stock_short`, `shipped`, …) or `manual` for a person moving the order on. A
trigger with no transition out of the current stage leaves the stage as it is, so a
definition can ignore facts it does not care about (a partial shipment, say).

Publishing a definition adds a version; an order keeps the version it was created under.
An approval policy is a list of rules (conditions on the order → approval levels by role),
also versioned; an order is judged by the version current when it is submitted.
"""

from __future__ import annotations

import copy
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.exceptions import InvalidInput, NotFound
from domain.values import _CODE, fraction, money, stable_id
from domain.versioned import VersionedDocument

ROLES = (
    "sales", "sales_director", "warehouse", "production", "finance", "finance_manager", "manager",
    "auditor", "customer", "integration", "admin",
)  # fmt: skip
TRIGGERS = (
    "submitted",  # sent for approval (levels are needed)
    "approved",  # the last approval level approved, or none was needed
    "rejected",  # an approver sent it back to the salesperson
    "amended",  # lines changed after submission: back to the start, judged again
    "stock_covered",  # every line is reserved
    "stock_short",  # some line is short after reservation
    "production_completed",  # every production order of the order is completed
    "qc_passed",  # every production order of the order passed quality control
    "partially_shipped",
    "shipped",  # everything ordered has shipped
    "delivered",  # the customer signed for every shipment
    "cancelled",
    "manual",  # a person with one of the transition's roles moves the order on
)
ACTIONS = ("reserve_stock", "create_production", "notify")
DEFAULT_WORKFLOW = "standard"
POLICY_ID = stable_id("approval-policy", "default")
MAX_STAGES = 100
MAX_SLA_HOURS = 24 * 365


def workflow_id(name: str) -> UUID:
    return stable_id("workflow", name)


# -- workflow definitions -------------------------------------------------------------------


def _stage(key: str, role: str, sla: float | None, *actions: str) -> dict[str, Any]:
    return {"key": key, "role": role, "sla_hours": sla, "on_enter": list(actions)}


_PRE_SHIPMENT = (
    "created", "awaiting_approval", "approved", "stock_confirmed", "production_scheduled",
    "production_complete", "qc_passed",
)  # fmt: skip
_AFTER_APPROVAL = _PRE_SHIPMENT[2:]
_SHIPS_FROM = _PRE_SHIPMENT[3:]

DEFAULT_DEFINITION: dict[str, Any] = {
    "name": DEFAULT_WORKFLOW,
    "initial": "created",
    "stages": [
        _stage("created", "sales", 24),
        _stage("awaiting_approval", "sales_director", 24, "notify"),
        _stage("approved", "warehouse", 4, "reserve_stock"),
        _stage("stock_confirmed", "warehouse", 48),
        _stage("production_scheduled", "production", 120, "create_production"),
        _stage("production_complete", "production", 24),
        _stage("qc_passed", "warehouse", 48),
        _stage("shipped", "warehouse", 240),
        _stage("delivered", "sales", 72),
        _stage("completed", "sales", None),
        _stage("cancelled", "sales", None),
    ],
    "transitions": [
        {"from": "created", "to": "awaiting_approval", "on": "submitted"},
        {"from": "created", "to": "approved", "on": "approved"},
        {"from": "awaiting_approval", "to": "approved", "on": "approved"},
        {"from": "awaiting_approval", "to": "created", "on": "rejected"},
        {"from": "awaiting_approval", "to": "created", "on": "amended"},
        {"from": "approved", "to": "stock_confirmed", "on": "stock_covered"},
        {"from": "approved", "to": "production_scheduled", "on": "stock_short"},
        {"from": "production_scheduled", "to": "stock_confirmed", "on": "stock_covered"},
        {"from": "production_scheduled", "to": "production_complete", "on": "production_completed"},
        {"from": "production_complete", "to": "qc_passed", "on": "qc_passed"},
        *({"from": stage, "to": "shipped", "on": "shipped"} for stage in _SHIPS_FROM),
        {"from": "shipped", "to": "delivered", "on": "delivered"},
        {"from": "delivered", "to": "completed", "on": "manual", "roles": ["sales", "manager"]},
        *({"from": stage, "to": "created", "on": "amended"} for stage in _AFTER_APPROVAL),
        *({"from": stage, "to": "cancelled", "on": "cancelled"} for stage in _PRE_SHIPMENT),
    ],
}


def validate_definition(raw: Any) -> dict[str, Any]:
    """A clean copy of a workflow definition, or InvalidInput naming the first problem."""
    if not isinstance(raw, dict):
        raise InvalidInput("a workflow definition is an object with stages and transitions")
    unknown = set(raw) - {"name", "initial", "stages", "transitions", "description"}
    if unknown:
        raise InvalidInput(f"unknown workflow field {sorted(unknown)[0]!r}")
    name = _key(raw.get("name"), "workflow name")
    stages = _stages(raw.get("stages"))
    initial = _key(raw.get("initial"), "initial stage")
    if initial not in stages:
        raise InvalidInput(f"initial stage {initial!r} is not one of the stages")
    transitions = _transitions(raw.get("transitions"), stages)
    _check_graph(initial, stages, transitions)
    description = raw.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        raise InvalidInput("description must be text of at most 2000 characters")
    return {
        "name": name,
        "description": description,
        "initial": initial,
        "stages": list(stages.values()),
        "transitions": transitions,
    }


def _key(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _CODE.fullmatch(value):
        raise InvalidInput(f"{what} must be a code (letters, digits, . _ -), got {value!r}")
    return value


def _role(value: Any, what: str) -> str:
    if value not in ROLES:
        raise InvalidInput(f"{what}: unknown role {value!r}; roles are {', '.join(ROLES)}")
    return str(value)


def _stages(raw: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(raw, list) or not raw:
        raise InvalidInput("stages must be a non-empty list")
    if len(raw) > MAX_STAGES:
        raise InvalidInput(f"a workflow has at most {MAX_STAGES} stages")
    stages: dict[str, dict[str, Any]] = {}
    for entry in raw:
        if not isinstance(entry, dict):
            raise InvalidInput("each stage is an object with key, role, sla_hours, on_enter")
        key = _key(entry.get("key"), "stage key")
        if key in stages:
            raise InvalidInput(f"stage {key!r} appears twice")
        unknown = set(entry) - {"key", "label", "role", "sla_hours", "on_enter"}
        if unknown:
            raise InvalidInput(f"stage {key!r}: unknown field {sorted(unknown)[0]!r}")
        actions = entry.get("on_enter", [])
        if not isinstance(actions, list) or any(a not in ACTIONS for a in actions):
            raise InvalidInput(
                f"stage {key!r}: on_enter lists actions from {', '.join(ACTIONS)}, got {actions!r}"
            )
        label = entry.get("label", key.replace("_", " "))
        if not isinstance(label, str) or not 0 < len(label) <= 200:
            raise InvalidInput(f"stage {key!r}: label must be text of at most 200 characters")
        stages[key] = {
            "key": key,
            "label": label,
            "role": _role(entry.get("role"), f"stage {key!r}"),
            "sla_hours": _sla(entry.get("sla_hours"), key),
            "on_enter": list(dict.fromkeys(actions)),
        }
    return stages


def _sla(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise InvalidInput(f"stage {key!r}: sla_hours must be a number of hours or null")
    try:
        hours = float(value)
    except ValueError:
        raise InvalidInput(f"stage {key!r}: sla_hours is not a number: {value!r}") from None
    if not 0 < hours <= MAX_SLA_HOURS:
        raise InvalidInput(
            f"stage {key!r}: sla_hours must be greater than 0 and at most {MAX_SLA_HOURS},"
            f" got {value!r}"
        )
    return hours


def _transitions(raw: Any, stages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    if not isinstance(raw, list):
        raise InvalidInput("transitions must be a list")
    clean: list[dict[str, Any]] = []
    seen: set[tuple[str, str, str]] = set()
    by_trigger: dict[tuple[str, str], str] = {}
    for entry in raw:
        if not isinstance(entry, dict) or set(entry) - {"from", "to", "on", "roles"}:
            raise InvalidInput("each transition is an object with from, to, on (and roles)")
        source, target, trigger = str(entry.get("from")), str(entry.get("to")), entry.get("on")
        for end in (source, target):
            if end not in stages:
                raise InvalidInput(f"transition {source!r} → {target!r}: no stage {end!r}")
        if trigger not in TRIGGERS:
            raise InvalidInput(
                f"transition {source!r} → {target!r}: trigger {trigger!r} is not one of"
                f" {', '.join(TRIGGERS)}"
            )
        roles = entry.get("roles", [])
        if trigger == "manual":
            if not isinstance(roles, list) or not roles:
                raise InvalidInput(f"manual transition {source!r} → {target!r} needs roles")
            roles = [_role(r, f"transition {source!r} → {target!r}") for r in roles]
        elif roles:
            raise InvalidInput(f"only manual transitions take roles ({source!r} → {target!r})")
        if (source, target, trigger) in seen:
            raise InvalidInput(f"transition {source!r} → {target!r} on {trigger!r} appears twice")
        seen.add((source, target, trigger))
        if trigger != "manual":
            if (source, trigger) in by_trigger:
                raise InvalidInput(
                    f"stage {source!r} has two transitions on {trigger!r}: a trigger must lead"
                    " to one stage"
                )
            by_trigger[(source, trigger)] = target
        clean.append({"from": source, "to": target, "on": trigger, "roles": roles})
    return clean


def _check_graph(
    initial: str, stages: dict[str, dict[str, Any]], transitions: list[dict[str, Any]]
) -> None:
    """Every stage reachable from the start, and an end reachable from every stage."""
    forward: dict[str, set[str]] = {key: set() for key in stages}
    backward: dict[str, set[str]] = {key: set() for key in stages}
    for t in transitions:
        forward[t["from"]].add(t["to"])
        backward[t["to"]].add(t["from"])
    reached = _reach({initial}, forward)
    unreachable = [key for key in stages if key not in reached]
    if unreachable:
        raise InvalidInput(f"stage {unreachable[0]!r} cannot be reached from {initial!r}")
    ends = {key for key, targets in forward.items() if not targets}
    if not ends:
        raise InvalidInput("the workflow has no final stage (one without transitions out)")
    trapped = [key for key in stages if key not in _reach(ends, backward)]
    if trapped:
        raise InvalidInput(f"no final stage can be reached from stage {trapped[0]!r}")
    for end in ends:
        if stages[end]["sla_hours"] is not None:
            raise InvalidInput(f"final stage {end!r} cannot have an SLA")
    # Stock is reserved on final approval, and only then: the definition says so explicitly.
    for t in transitions:
        reserves = "reserve_stock" in stages[t["to"]]["on_enter"]
        if (t["on"] == "approved") != reserves:
            raise InvalidInput(
                f"stage {t['to']!r}: reserve_stock belongs on exactly the stages an"
                f" 'approved' transition enters ({t['from']!r} → {t['to']!r} on {t['on']!r})"
            )
    # An order approved with no levels, or at its last level, must have somewhere to go.
    waiting = {t["to"] for t in transitions if t["on"] == "submitted"}
    for stage in sorted({initial} | waiting):
        if not any(t["from"] == stage and t["on"] == "approved" for t in transitions):
            raise InvalidInput(
                f"stage {stage!r} needs an 'approved' transition: orders are approved there"
            )


def _reach(start: set[str], edges: dict[str, set[str]]) -> set[str]:
    seen, queue = set(start), deque(start)
    while queue:
        for nxt in edges[queue.popleft()]:
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen


@dataclass(frozen=True)
class Workflow:
    """One published version of a definition, indexed for the engine."""

    name: str
    version: int
    definition: dict[str, Any]

    @property
    def initial(self) -> str:
        return str(self.definition["initial"])

    def stage(self, key: str) -> dict[str, Any]:
        return _index(self.name, self.version, self.definition)[0][key]

    def target(self, stage: str, trigger: str) -> str | None:
        """Where `trigger` takes an order in `stage`, or None if the definition ignores it."""
        return _index(self.name, self.version, self.definition)[1].get((stage, trigger))

    def manual_roles(self, stage: str, target: str) -> list[str] | None:
        """Roles allowed to move an order from `stage` to `target` by hand (None: no such
        manual transition)."""
        return _index(self.name, self.version, self.definition)[2].get((stage, target))

    def is_final(self, stage: str) -> bool:
        return stage in _index(self.name, self.version, self.definition)[3]

    def sla_due(self, stage: str, entered: datetime) -> datetime | None:
        """UTC, so the read models can compare due times as text on SQLite."""
        hours = self.stage(stage)["sla_hours"]
        if hours is None:
            return None
        return (entered + timedelta(hours=hours)).astimezone(UTC)


_INDEXES: OrderedDict[int, tuple[dict[str, Any], Any]] = OrderedDict()
_INDEX_LIMIT = 256


def _index(name: str, version: int, definition: dict[str, Any]) -> Any:
    """Lookup tables per published definition, kept for the definitions in use. Keyed by
    the definition object itself (held in the entry, so its id cannot be reused): two
    stores may each have a different version 1 of a name."""
    entry = _INDEXES.get(id(definition))
    if entry is not None and entry[0] is definition:
        _INDEXES.move_to_end(id(definition))
        return entry[1]
    stages = {s["key"]: s for s in definition["stages"]}
    triggers = {(t["from"], t["on"]): t["to"] for t in definition["transitions"]}
    manual = {
        (t["from"], t["to"]): t["roles"] for t in definition["transitions"] if t["on"] == "manual"
    }
    sources = {t["from"] for t in definition["transitions"]}
    finals = {key for key in stages if key not in sources}
    found = (stages, triggers, manual, finals)
    _INDEXES[id(definition)] = (definition, found)
    if len(_INDEXES) > _INDEX_LIMIT:
        _INDEXES.popitem(last=False)
    return found


class WorkflowDefinition(Aggregate):
    """Every published version of one named workflow."""

    @staticmethod
    def create_id(name: str) -> UUID:
        return workflow_id(name)

    @event("Published")
    def __init__(self, name: str, definition: dict[str, Any]) -> None:
        self.name = name
        self.versions: list[dict[str, Any]] = [definition]

    def __deepcopy__(self, memo: dict[int, Any]) -> WorkflowDefinition:
        # Published versions never change: copies share them.
        copied = object.__new__(WorkflowDefinition)
        copied.__dict__.update(self.__dict__)
        copied.versions = list(self.versions)
        copied._pending_events = list(self._pending_events)
        return copied

    @property
    def latest(self) -> int:
        return len(self.versions)

    def publish(self, definition: dict[str, Any]) -> None:
        self._revised(definition)

    @event("Revised")
    def _revised(self, definition: dict[str, Any]) -> None:
        self.versions.append(definition)

    def workflow(self, version: int | None = None) -> Workflow:
        number = self.latest if version is None else version
        if not 1 <= number <= self.latest:
            raise NotFound(f"workflow {self.name!r} has no version {number}")
        return Workflow(self.name, number, self.versions[number - 1])


# -- approval policy ----------------------------------------------------------------------------


ORDER_FACTS = ("amount", "currency", "max_discount", "non_standard", "customer_flags")


@dataclass(frozen=True)
class ApprovalFacts:
    """What the approval rules look at. An amendment that changes the order's own facts
    sends the order back for approval; one that does not keeps the approvals given, except
    for rules that credit facts (which drift with time) make match only now."""

    amount: Decimal
    currency: str
    max_discount: Decimal
    non_standard: bool
    customer_flags: tuple[str, ...]
    credit_over_limit: bool = False  # exposure with this order over the customer's limit
    credit_score: int | None = None  # None: credit not checked (no limit set, no checker)

    def as_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "max_discount": self.max_discount,
            "non_standard": self.non_standard,
            "customer_flags": list(self.customer_flags),
            "credit_over_limit": self.credit_over_limit,
            "credit_score": self.credit_score,
        }

    def order_facts(self) -> dict[str, Any]:
        return {key: value for key, value in self.as_dict().items() if key in ORDER_FACTS}

    @classmethod
    def from_dict(cls, facts: dict[str, Any]) -> ApprovalFacts:
        """Facts as a `Submitted` event recorded them (older events carry no credit facts)."""
        return cls(
            amount=Decimal(facts["amount"]),
            currency=str(facts["currency"]),
            max_discount=Decimal(facts["max_discount"]),
            non_standard=bool(facts["non_standard"]),
            customer_flags=tuple(facts["customer_flags"]),
            credit_over_limit=bool(facts.get("credit_over_limit", False)),
            credit_score=facts.get("credit_score"),
        )


def validate_policy(raw: Any) -> dict[str, Any]:
    """A clean copy of an approval policy, or InvalidInput naming the first problem."""
    if not isinstance(raw, dict) or set(raw) - {"rules", "description"}:
        raise InvalidInput("an approval policy is an object with a list of rules")
    rules = raw.get("rules")
    if not isinstance(rules, list) or len(rules) > 100:
        raise InvalidInput("rules must be a list of at most 100 rules")
    clean = []
    names: set[str] = set()
    for rule in rules:
        if not isinstance(rule, dict) or set(rule) - {"name", "when", "levels"}:
            raise InvalidInput("each rule is an object with name, when and levels")
        name = rule.get("name")
        if not isinstance(name, str) or not 0 < len(name) <= 200 or name in names:
            raise InvalidInput(f"each rule needs a unique name of at most 200 chars: {name!r}")
        names.add(name)
        levels = rule.get("levels")
        if not isinstance(levels, list) or not levels:
            raise InvalidInput(f"rule {name!r}: levels must list one or more roles")
        clean.append(
            {
                "name": name,
                "when": _conditions(rule.get("when"), name),
                "levels": [_role(role, f"rule {name!r}") for role in levels],
            }
        )
    return {"rules": clean, "description": str(raw.get("description", ""))[:2000]}


def _conditions(raw: Any, name: str) -> dict[str, Any]:
    allowed = {
        "amount_over", "currency", "discount_over", "non_standard", "customer_flag",
        "credit_over_limit", "credit_score_below",
    }  # fmt: skip
    if not isinstance(raw, dict) or not raw or set(raw) - allowed:
        raise InvalidInput(f"rule {name!r}: when is a non-empty object of {sorted(allowed)}")
    when: dict[str, Any] = {}
    if "amount_over" in raw:
        when["amount_over"] = money(raw["amount_over"], f"rule {name!r} amount_over")
    if "currency" in raw:
        if "amount_over" not in raw:
            raise InvalidInput(f"rule {name!r}: currency qualifies amount_over")
        value = raw["currency"]
        if not isinstance(value, str) or len(value) != 3 or not value.isupper():
            raise InvalidInput(f"rule {name!r}: currency must be an ISO 4217 code")
        when["currency"] = value
    if "discount_over" in raw:
        when["discount_over"] = fraction(raw["discount_over"], f"rule {name!r} discount_over")
    if "non_standard" in raw:
        if raw["non_standard"] is not True:
            raise InvalidInput(f"rule {name!r}: non_standard can only be true")
        when["non_standard"] = True
    if "customer_flag" in raw:
        when["customer_flag"] = _key(raw["customer_flag"], f"rule {name!r} customer_flag")
    if "credit_over_limit" in raw:
        if raw["credit_over_limit"] is not True:
            raise InvalidInput(f"rule {name!r}: credit_over_limit can only be true")
        when["credit_over_limit"] = True
    if "credit_score_below" in raw:
        score = raw["credit_score_below"]
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 100:
            raise InvalidInput(
                f"rule {name!r}: credit_score_below must be a whole number from 1 to 100,"
                f" got {score!r}"
            )
        when["credit_score_below"] = score
    return when


def matches(when: dict[str, Any], facts: ApprovalFacts) -> bool:
    """All of a rule's conditions hold."""
    if "amount_over" in when:
        if when.get("currency", facts.currency) != facts.currency:
            return False
        if not facts.amount > when["amount_over"]:
            return False
    if "discount_over" in when and not facts.max_discount > when["discount_over"]:
        return False
    if when.get("non_standard") and not facts.non_standard:
        return False
    if when.get("credit_over_limit") and not facts.credit_over_limit:
        return False
    if "credit_score_below" in when and not (
        facts.credit_score is not None and facts.credit_score < when["credit_score_below"]
    ):
        return False
    return not ("customer_flag" in when and when["customer_flag"] not in facts.customer_flags)


def approval_levels(policy: dict[str, Any], facts: ApprovalFacts) -> list[dict[str, str]]:
    """Sequential levels for an order: the matching rules' roles in rule order, each role
    once (at its first place), each level naming the rule that asked for it."""
    levels: list[dict[str, str]] = []
    for rule in policy["rules"]:
        if matches(rule["when"], facts):
            for role in rule["levels"]:
                if all(level["role"] != role for level in levels):
                    levels.append({"role": role, "rule": rule["name"]})
    return levels


def levels_on_resubmission(
    policy: dict[str, Any], facts: ApprovalFacts, approved: ApprovalFacts
) -> list[dict[str, str]]:
    """An amended order whose own facts are those already approved keeps its approvals,
    except where credit has changed the picture: rules that match now but did not match
    the approved facts ask for their levels again (credit that improved removes none)."""
    fresh = [
        rule
        for rule in policy["rules"]
        if matches(rule["when"], facts) and not matches(rule["when"], approved)
    ]
    return approval_levels({"rules": fresh}, facts)


class ApprovalPolicy(VersionedDocument, Aggregate):
    """Every published version of the approval rules."""

    @staticmethod
    def create_id() -> UUID:
        return POLICY_ID

    @event("Published")
    def __init__(self, policy: dict[str, Any]) -> None:
        self.versions: list[dict[str, Any]] = [policy]

    def publish(self, policy: dict[str, Any]) -> None:
        self._revised(policy)

    @event("Revised")
    def _revised(self, policy: dict[str, Any]) -> None:
        self.versions.append(policy)


def default_definition() -> dict[str, Any]:
    """The built-in process, published as version 1 of `standard` when first needed."""
    return validate_definition(copy.deepcopy(DEFAULT_DEFINITION))
