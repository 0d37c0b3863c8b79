"""The read-only /audit routes over the real app on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from api.settings import Settings
from replay import audit, checkpoints
from tests.api.conftest import Api, assert_problem
from tests.integration import tampering


def linked(api: Api, warehouses: int, first: int = 0) -> int:
    """Record warehouses; wait until the chain follower has linked them all."""
    position = 0
    for n in range(first, first + warehouses):
        position = api.ok("/warehouses", {"code": f"W{n}", "name": f"Site {n}"}, 201)["position"]
    assert api.runtime.runner.wait_for(position, ["audit_chain"])
    return position


def signed(api: Api) -> tuple[dict[str, Any], str]:
    """A checkpoint of the current head, and the PEM public key that verifies it."""
    private_pem, public_pem = checkpoints.new_key_pair()
    key = checkpoints.load_private_key(private_pem)
    made = audit.sign_checkpoint(api.runtime.ledger, api.runtime.store, key)
    return made.as_json(), public_pem.decode()


def test_the_chain_head_follows_the_log(api: Api) -> None:
    head = linked(api, 4)
    chain = api.read("/audit/chain")
    assert chain["position"] == head == chain["log_head"]
    assert chain["behind"] is False
    assert len(chain["hash"]) == 64


def test_verify_is_clean_then_reports_the_first_finding(api: Api, settings: Settings) -> None:
    head = linked(api, 5)
    clean = api.post("/audit/verify").json()
    assert clean["ok"] is True
    assert clean["first_finding"] is None
    assert (clean["verified"], clean["position"]) == (5, head)
    assert clean["head_hash"] == api.read("/audit/chain")["hash"]
    tampering.delete(settings, 2)
    found = api.post("/audit/verify").json()
    assert found["ok"] is False
    assert found["first_finding"]["kind"] == "removed"
    assert found["first_finding"]["position"] == 2


def test_a_checkpoint_verifies_and_a_foreign_or_broken_one_is_422(
    api: Api, settings: Settings
) -> None:
    linked(api, 3)
    checkpoint, public_key = signed(api)
    linked(api, 2, first=3)
    response = api.post(
        "/audit/checkpoints/verify", {"checkpoint": checkpoint, "public_key": public_key}
    )
    assert response.status_code == 200, response.text
    assert response.json()["ok"] is True
    assert response.json()["position"] == 3
    foreign = checkpoints.new_key_pair()[1].decode()
    cases = [
        ({"checkpoint": checkpoint, "public_key": foreign}, "invalid-checkpoint"),
        ({"checkpoint": checkpoint | {"hash": "00"}, "public_key": public_key},
         "invalid-checkpoint"),
        ({"checkpoint": checkpoint, "public_key": "not a key"}, "invalid-checkpoint"),
        ({"checkpoint": checkpoint}, "invalid-input"),
    ]  # fmt: skip
    for body, rule in cases:
        assert_problem(api.post("/audit/checkpoints/verify", body), 422, rule)
    tampering.change_state(settings, 1)
    problem = assert_problem(
        api.post("/audit/checkpoints/verify", {"checkpoint": checkpoint, "public_key": public_key}),
        422,
        "checkpoint-mismatch",
    )
    assert problem["finding"]["position"] == 1
