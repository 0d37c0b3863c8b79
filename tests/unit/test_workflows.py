"""Workflow definitions and approval policies as data: validation, lookups, approval levels."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from domain.exceptions import InvalidInput
from domain.workflows import (
    DEFAULT_DEFINITION,
    MAX_SLA_HOURS,
    ROLES,
    ApprovalFacts,
    Workflow,
    approval_levels,
    default_definition,
    validate_definition,
    validate_policy,
)


def stage(key: str, role: str = "sales", sla: Any = None, *actions: str) -> dict[str, Any]:
    return {"key": key, "role": role, "sla_hours": sla, "on_enter": list(actions)}


def go(source: str, target: str, on: str, roles: list[str] | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"from": source, "to": target, "on": on}
    if roles is not None:
        found["roles"] = roles
    return found


def simple(**changes: Any) -> dict[str, Any]:
    """created → approved (reserves) → done, and a manual way from approved to done."""
    definition: dict[str, Any] = {
        "name": "simple",
        "initial": "created",
        "stages": [
            stage("created", "sales", 24),
            stage("approved", "warehouse", 4, "reserve_stock"),
            stage("done", "sales", None),
        ],
        "transitions": [
            go("created", "approved", "approved"),
            go("approved", "done", "shipped"),
            go("approved", "done", "manual", ["manager"]),
        ],
    }
    definition.update(changes)
    return definition


def with_stages(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*simple()["stages"], *extra]


def with_transitions(*extra: dict[str, Any]) -> list[dict[str, Any]]:
    return [*simple()["transitions"], *extra]


def refused(raw: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        validate_definition(raw)
    return error.value.message


# -- valid definitions ---------------------------------------------------------------------------


def test_the_default_definition_is_valid_and_keeps_its_stages_and_transitions() -> None:
    clean = validate_definition(copy.deepcopy(DEFAULT_DEFINITION))

    assert clean["name"] == "standard"
    assert clean["initial"] == "created"
    assert [s["key"] for s in clean["stages"]] == [s["key"] for s in DEFAULT_DEFINITION["stages"]]
    assert len(clean["transitions"]) == len(DEFAULT_DEFINITION["transitions"])
    assert clean == default_definition()


def test_a_clean_definition_fills_in_labels_roles_lists_and_numeric_slas() -> None:
    raw = simple(description="a short process")
    raw["stages"][0] = {"key": "created", "role": "sales", "sla_hours": "12.5"}
    raw["stages"][1]["on_enter"] = ["reserve_stock", "reserve_stock", "notify"]

    clean = validate_definition(raw)

    assert clean["stages"][0] == {
        "key": "created", "label": "created", "role": "sales", "sla_hours": 12.5, "on_enter": [],
    }  # fmt: skip
    assert clean["stages"][1]["on_enter"] == ["reserve_stock", "notify"]  # each action once
    assert clean["transitions"][0] == {
        "from": "created", "to": "approved", "on": "approved", "roles": [],
    }  # fmt: skip
    assert clean["description"] == "a short process"


def test_validating_does_not_change_the_definition_it_was_given() -> None:
    raw = simple()
    before = copy.deepcopy(raw)

    validate_definition(raw)

    assert raw == before


@pytest.mark.parametrize("hours", [1, 0.25, "48", Decimal("2.5"), MAX_SLA_HOURS])
def test_an_sla_from_a_fraction_of_an_hour_up_to_a_year_is_accepted(hours: Any) -> None:
    raw = simple()
    raw["stages"][0]["sla_hours"] = hours

    assert validate_definition(raw)["stages"][0]["sla_hours"] == float(hours)


# -- invalid definitions -------------------------------------------------------------------------


def test_a_stage_that_cannot_be_reached_from_the_initial_stage_is_refused() -> None:
    raw = simple(stages=with_stages(stage("limbo", "sales", 1)),
                 transitions=with_transitions(go("limbo", "done", "shipped")))  # fmt: skip

    assert refused(raw) == "stage 'limbo' cannot be reached from 'created'"


def test_a_cycle_with_no_way_out_to_a_final_stage_is_refused() -> None:
    raw = simple(
        stages=with_stages(stage("loop_a", "production", 8), stage("loop_b", "production", 8)),
        transitions=with_transitions(
            go("created", "loop_a", "cancelled"),
            go("loop_a", "loop_b", "manual", ["production"]),
            go("loop_b", "loop_a", "manual", ["production"]),
        ),
    )

    assert refused(raw) == "no final stage can be reached from stage 'loop_a'"


def test_a_workflow_without_any_final_stage_is_refused() -> None:
    raw = simple(
        stages=with_stages()[:2],
        transitions=[go("created", "approved", "approved"), go("approved", "created", "amended")],
    )

    assert "no final stage" in refused(raw)


@pytest.mark.parametrize("role", ["nobody", "", None, "Sales", 3])
def test_a_stage_with_an_unknown_role_is_refused(role: Any) -> None:
    raw = simple()
    raw["stages"][1]["role"] = role

    message = refused(raw)

    assert message.startswith(f"stage 'approved': unknown role {role!r}")
    assert ", ".join(ROLES) in message  # the message lists the roles there are


@pytest.mark.parametrize("hours", [0, -1, "-0.5", MAX_SLA_HOURS + 1, "1e9", "inf", "nan"])
def test_an_sla_that_is_not_more_than_zero_and_at_most_a_year_is_refused(hours: Any) -> None:
    raw = simple()
    raw["stages"][0]["sla_hours"] = hours

    message = refused(raw)

    assert message.startswith("stage 'created': sla_hours must be greater than 0 and at most")
    assert str(MAX_SLA_HOURS) in message


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        ("soon", "stage 'created': sla_hours is not a number: 'soon'"),
        (True, "stage 'created': sla_hours must be a number of hours or null"),
        ([4], "stage 'created': sla_hours must be a number of hours or null"),
        ({"h": 4}, "stage 'created': sla_hours must be a number of hours or null"),
    ],
)
def test_an_sla_that_is_not_a_number_is_refused(hours: Any, expected: str) -> None:
    raw = simple()
    raw["stages"][0]["sla_hours"] = hours

    assert refused(raw) == expected


def test_a_final_stage_with_an_sla_is_refused() -> None:
    raw = simple()
    raw["stages"][2]["sla_hours"] = 24

    assert refused(raw) == "final stage 'done' cannot have an SLA"


def test_a_transition_on_an_unknown_trigger_is_refused() -> None:
    raw = simple(transitions=with_transitions(go("created", "done", "teleported")))

    message = refused(raw)

    assert message.startswith("transition 'created' → 'done': trigger 'teleported' is not one of")
    assert "stock_short" in message


@pytest.mark.parametrize("actions", [["dance"], ["notify", "email"], "notify", None])
def test_a_stage_with_an_unknown_action_is_refused(actions: Any) -> None:
    raw = simple()
    raw["stages"][0]["on_enter"] = actions

    message = refused(raw)

    assert message.startswith("stage 'created': on_enter lists actions from reserve_stock,")
    assert repr(actions) in message


@pytest.mark.parametrize(("source", "target"), [("created", "nowhere"), ("nowhere", "done")])
def test_a_transition_naming_an_unknown_stage_is_refused(source: str, target: str) -> None:
    raw = simple(transitions=with_transitions(go(source, target, "cancelled")))

    assert refused(raw) == f"transition {source!r} → {target!r}: no stage 'nowhere'"


def test_a_stage_key_used_twice_is_refused() -> None:
    raw = simple(stages=with_stages(stage("created", "warehouse", 2)))

    assert refused(raw) == "stage 'created' appears twice"


def test_two_transitions_from_one_stage_on_one_trigger_are_refused() -> None:
    raw = simple(transitions=with_transitions(go("approved", "created", "shipped")))

    assert refused(raw) == (
        "stage 'approved' has two transitions on 'shipped': a trigger must lead to one stage"
    )


def test_the_same_transition_twice_is_refused() -> None:
    raw = simple(transitions=with_transitions(go("approved", "done", "manual", ["sales"])))

    assert refused(raw) == "transition 'approved' → 'done' on 'manual' appears twice"


@pytest.mark.parametrize("roles", [None, [], "manager"])
def test_a_manual_transition_without_a_list_of_roles_is_refused(roles: Any) -> None:
    raw = simple()
    raw["transitions"][2] = go("approved", "done", "manual", roles)

    assert refused(raw) == "manual transition 'approved' → 'done' needs roles"


def test_a_manual_transition_naming_an_unknown_role_is_refused() -> None:
    raw = simple()
    raw["transitions"][2] = go("approved", "done", "manual", ["manager", "intern"])

    assert refused(raw).startswith("transition 'approved' → 'done': unknown role 'intern'")


def test_roles_on_a_transition_that_is_not_manual_are_refused() -> None:
    raw = simple()
    raw["transitions"][1] = go("approved", "done", "shipped", ["warehouse"])

    assert refused(raw) == "only manual transitions take roles ('approved' → 'done')"


def test_reserve_stock_on_a_stage_not_entered_by_approval_is_refused() -> None:
    raw = simple(
        stages=with_stages(stage("extra", "warehouse", 2, "reserve_stock")),
        transitions=with_transitions(go("approved", "extra", "stock_short"),
                                     go("extra", "done", "shipped")),
    )  # fmt: skip

    message = refused(raw)

    assert message.startswith("stage 'extra': reserve_stock belongs on exactly the stages an")
    assert "('approved' → 'extra' on 'stock_short')" in message


def test_a_stage_entered_by_approval_without_reserve_stock_is_refused() -> None:
    raw = simple()
    raw["stages"][1]["on_enter"] = ["notify"]

    message = refused(raw)

    assert message.startswith("stage 'approved': reserve_stock belongs on exactly the stages")
    assert "('created' → 'approved' on 'approved')" in message


def test_a_stage_that_reserves_may_not_also_be_entered_by_another_trigger() -> None:
    raw = simple(transitions=with_transitions(go("created", "approved", "submitted")))

    assert "reserve_stock belongs on exactly the stages" in refused(raw)


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("workflow", "unknown workflow field 'colour'"),
        ("stage", "stage 'created': unknown field 'colour'"),
        ("transition", "each transition is an object with from, to, on (and roles)"),
    ],
)
def test_unknown_fields_are_refused(where: str, expected: str) -> None:
    raw = simple()
    target = {"workflow": raw, "stage": raw["stages"][0], "transition": raw["transitions"][0]}
    target[where]["colour"] = "blue"

    assert refused(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "a workflow definition is an object with stages and transitions"),
        ([], "a workflow definition is an object with stages and transitions"),
        (simple(name="has space"), "workflow name must be a code"),
        (simple(initial="nowhere"), "initial stage 'nowhere' is not one of the stages"),
        (simple(stages=[]), "stages must be a non-empty list"),
        (simple(stages=[stage(f"s{n}") for n in range(101)]), "a workflow has at most 100"),
        (simple(transitions={}), "transitions must be a list"),
        (simple(description=5), "description must be text of at most 2000 characters"),
    ],
)
def test_a_malformed_definition_is_refused_naming_its_problem(raw: Any, expected: str) -> None:
    assert refused(raw).startswith(expected)


# -- the indexed workflow ------------------------------------------------------------------------


@pytest.fixture
def standard() -> Workflow:
    return Workflow("standard", 1, default_definition())


def test_a_trigger_leads_where_the_definition_says_and_is_ignored_where_it_has_none(
    standard: Workflow,
) -> None:
    assert standard.target("created", "submitted") == "awaiting_approval"
    assert standard.target("awaiting_approval", "approved") == "approved"
    assert standard.target("approved", "stock_short") == "production_scheduled"
    assert standard.target("qc_passed", "shipped") == "shipped"
    assert standard.target("shipped", "partially_shipped") is None
    assert standard.target("shipped", "cancelled") is None
    assert standard.target("completed", "amended") is None


def test_manual_roles_name_who_may_move_an_order_by_hand(standard: Workflow) -> None:
    assert standard.manual_roles("delivered", "completed") == ["sales", "manager"]
    assert standard.manual_roles("delivered", "cancelled") is None
    assert standard.manual_roles("shipped", "delivered") is None  # by trigger, not by hand


def test_final_stages_are_those_without_transitions_out(standard: Workflow) -> None:
    assert [s["key"] for s in standard.definition["stages"] if standard.is_final(s["key"])] == [
        "completed", "cancelled",
    ]  # fmt: skip


def test_the_sla_due_time_is_the_entry_time_plus_the_stages_hours_in_utc(
    standard: Workflow,
) -> None:
    entered = datetime(2025, 3, 1, 23, 30, tzinfo=timezone(timedelta(hours=2)))

    due = standard.sla_due("approved", entered)

    assert due == entered + timedelta(hours=4)
    assert due is not None
    assert due.tzinfo is UTC
    assert due.isoformat() == "2025-03-02T01:30:00+00:00"
    assert standard.sla_due("completed", entered) is None  # final: no SLA


def test_a_fractional_sla_gives_a_due_time_to_the_minute() -> None:
    raw = simple(name="fractional-sla")
    raw["stages"][0]["sla_hours"] = "1.5"
    flow = Workflow("fractional-sla", 1, validate_definition(raw))

    due = flow.sla_due("created", datetime(2025, 1, 1, 8, 0, tzinfo=UTC))

    assert due == datetime(2025, 1, 1, 9, 30, tzinfo=UTC)


def test_two_definitions_published_under_one_name_and_version_are_not_confused() -> None:
    # Two stores in one process (two tenants, or two tests one after the other) can each
    # hold version 1 of a workflow called "clash" with different content.
    first = simple(name="clash")
    second = simple(name="clash")
    second["stages"][2]["key"] = "finished"
    for t in second["transitions"][1:]:
        t["to"] = "finished"
    Workflow("clash", 1, validate_definition(first)).target("approved", "shipped")

    other = Workflow("clash", 1, validate_definition(second))

    assert other.target("approved", "shipped") == "finished", (
        "BUG: domain.workflows._INDEXES caches lookup tables per (name, version) for the whole"
        " process, so a second definition with the same name and version is answered from the"
        " first one's tables"
    )


# -- approval policies ---------------------------------------------------------------------------


def policy_refused(raw: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        validate_policy(raw)
    return error.value.message


def rule(name: str, levels: list[Any], **when: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "levels": levels}


def test_a_valid_policy_is_cleaned_to_exact_amounts() -> None:
    clean = validate_policy({
        "description": "big orders",
        "rules": [rule("big", ["sales_director", "finance"], amount_over="1000", currency="EUR"),
                  rule("discount", ["sales_director"], discount_over="0.2")],
    })  # fmt: skip

    assert clean == {
        "description": "big orders",
        "rules": [
            {"name": "big", "when": {"amount_over": Decimal(1000), "currency": "EUR"},
             "levels": ["sales_director", "finance"]},
            {"name": "discount", "when": {"discount_over": Decimal("0.2")},
             "levels": ["sales_director"]},
        ],
    }  # fmt: skip


def test_an_empty_list_of_rules_is_a_valid_policy() -> None:
    assert validate_policy({"rules": []}) == {"rules": [], "description": ""}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"rules": [rule("r", ["intern"], amount_over="1")]}, "rule 'r': unknown role 'intern'"),
        ({"rules": [rule("r", [], amount_over="1")]}, "rule 'r': levels must list one or more"),
        ({"rules": [{"name": "r", "when": {"amount_over": "1"}}]}, "rule 'r': levels must list"),
        (
            {"rules": [rule("r", ["finance"], currency="EUR")]},
            "rule 'r': currency qualifies amount_over",
        ),
        (
            {
                "rules": [
                    rule("r", ["finance"], amount_over="1"),
                    rule("r", ["sales"], amount_over="2"),
                ]
            },
            "each rule needs a unique name",
        ),
        (
            {"rules": [rule("r", ["finance"], non_standard=False)]},
            "rule 'r': non_standard can only be true",
        ),
        (
            {"rules": [rule("r", ["finance"], amount_over="1", currency="eur")]},
            "rule 'r': currency must be an ISO 4217 code",
        ),
        ({"rules": [rule("r", ["finance"], amount_over=1.5)]}, "rule 'r' amount_over must be"),
        ({"rules": [rule("r", ["finance"], amount_over="-1")]}, "rule 'r' amount_over must not"),
        ({"rules": [rule("r", ["finance"], discount_over="1")]}, "rule 'r' discount_over must"),
        ({"rules": [rule("r", ["finance"], customer_flag="bad flag")]}, "rule 'r' customer_flag"),
        ({"rules": [rule("r", ["finance"])]}, "rule 'r': when is a non-empty object"),
        ({"rules": [rule("r", ["finance"], colour="red")]}, "rule 'r': when is a non-empty"),
        ({"rules": [rule("", ["finance"], amount_over="1")]}, "each rule needs a unique name"),
        ({"rules": [{**rule("r", ["sales"], amount_over="1"), "x": 1}]}, "each rule is an object"),
        ({"rules": "all"}, "rules must be a list of at most 100 rules"),
        ({"rules": [], "colour": "red"}, "an approval policy is an object with a list of rules"),
        (None, "an approval policy is an object with a list of rules"),
    ],
)
def test_an_invalid_policy_is_refused_naming_its_problem(raw: Any, expected: str) -> None:
    assert policy_refused(raw).startswith(expected)


def facts(
    amount: str = "100",
    currency: str = "EUR",
    discount: str = "0",
    non_standard: bool = False,
    flags: tuple[str, ...] = (),
) -> ApprovalFacts:
    return ApprovalFacts(Decimal(amount), currency, Decimal(discount), non_standard, flags)


POLICY = validate_policy({
    "rules": [
        rule("big-eur", ["sales_director", "finance"], amount_over="1000", currency="EUR"),
        rule("big-any", ["manager"], amount_over="50000"),
        rule("discount", ["sales_director"], discount_over="0.2"),
        rule("special", ["production", "sales_director"], non_standard=True),
        rule("watched", ["finance"], customer_flag="credit_watch"),
    ]
})  # fmt: skip


def roles(found: list[dict[str, str]]) -> list[str]:
    return [level["role"] for level in found]


def test_an_order_no_rule_matches_needs_no_approval() -> None:
    assert approval_levels(POLICY, facts("999.99", discount="0.2")) == []


def test_an_amount_over_the_threshold_asks_for_the_rules_levels_in_order() -> None:
    assert approval_levels(POLICY, facts("1000.01")) == [
        {"role": "sales_director", "rule": "big-eur"},
        {"role": "finance", "rule": "big-eur"},
    ]


def test_an_amount_equal_to_the_threshold_is_not_over_it() -> None:
    assert approval_levels(POLICY, facts("1000")) == []


def test_a_currency_qualified_amount_rule_does_not_apply_to_another_currency() -> None:
    assert approval_levels(POLICY, facts("5000", currency="USD")) == []
    assert approval_levels(POLICY, facts("5000", currency="JPY")) == []


def test_an_amount_rule_without_currency_applies_to_every_currency() -> None:
    assert roles(approval_levels(POLICY, facts("60000", currency="USD"))) == ["manager"]


@pytest.mark.parametrize(("discount", "expected"), [("0.2", []), ("0.21", ["sales_director"])])
def test_a_discount_over_the_limit_asks_for_approval(discount: str, expected: list[str]) -> None:
    assert roles(approval_levels(POLICY, facts(discount=discount))) == expected


def test_a_non_standard_product_asks_for_its_rules_levels() -> None:
    assert approval_levels(POLICY, facts(non_standard=True)) == [
        {"role": "production", "rule": "special"},
        {"role": "sales_director", "rule": "special"},
    ]


def test_a_customer_flag_rule_applies_only_to_customers_with_that_flag() -> None:
    assert roles(approval_levels(POLICY, facts(flags=("credit_watch", "vip")))) == ["finance"]
    assert approval_levels(POLICY, facts(flags=("vip",))) == []


def test_several_matching_rules_give_sequential_levels_each_role_once_at_its_first_place() -> None:
    found = approval_levels(
        POLICY, facts("60000", discount="0.5", non_standard=True, flags=("credit_watch",))
    )

    assert found == [
        {"role": "sales_director", "rule": "big-eur"},
        {"role": "finance", "rule": "big-eur"},
        {"role": "manager", "rule": "big-any"},
        {"role": "production", "rule": "special"},
    ]


def test_a_rule_listing_a_role_twice_asks_for_it_once() -> None:
    policy = validate_policy({"rules": [rule("twice", ["finance", "manager", "finance"],
                                              amount_over="0")]})  # fmt: skip

    assert roles(approval_levels(policy, facts("1"))) == ["finance", "manager"]


def test_a_rule_with_several_conditions_needs_all_of_them() -> None:
    policy = validate_policy({"rules": [rule("both", ["finance"], amount_over="100",
                                              customer_flag="credit_watch")]})  # fmt: skip

    assert approval_levels(policy, facts("500")) == []
    assert approval_levels(policy, facts("50", flags=("credit_watch",))) == []
    assert roles(approval_levels(policy, facts("500", flags=("credit_watch",)))) == ["finance"]


def test_approval_facts_are_plain_data_for_the_event() -> None:
    found = facts("10.50", discount="0.1", flags=("a", "b")).as_dict()

    assert found == {
        "amount": Decimal("10.50"), "currency": "EUR", "max_discount": Decimal("0.1"),
        "non_standard": False, "customer_flags": ["a", "b"], "credit_over_limit": False,
        "credit_score": None,
    }  # fmt: skip
