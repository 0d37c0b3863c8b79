"""Process definitions: workflows (stages, transitions, roles, SLAs, actions) and the
approval policy, published as new versions through the API in JSON or YAML."""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml
from fastapi import APIRouter, Request
from starlette.responses import Response

from api.auth import allow
from api.deps import IfMatchDep, MetaDep, RuntimeDep, command_response, to_json_ready
from api.errors import ApiError
from api.responses import json_response
from api.types import CodePath
from domain.workflows import ACTIONS, ROLES, TRIGGERS

router = APIRouter(tags=["process definitions"])

YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml")
DEFINITION_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": {"type": "object"}},
        "application/yaml": {"schema": {"type": "object"}},
    },
}


class _Yaml12Loader(yaml.SafeLoader):
    """YAML where only true/false are booleans: in YAML 1.1 a transition's `on:` key would
    load as True (and yes/no/off with it)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


async def _document(request: Request) -> Any:
    """The request body as data: JSON, or YAML when sent as application/yaml."""
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if content_type in YAML_TYPES:
            return yaml.load(body, Loader=_Yaml12Loader)
        return orjson.loads(body)
    except (yaml.YAMLError, orjson.JSONDecodeError) as error:
        detail = f"the body is not valid {content_type or 'JSON'}: {error}"
        raise ApiError(422, detail, "invalid-input") from None


@router.get("/workflows/vocabulary", dependencies=[allow("process:read")])
def vocabulary() -> Response:
    """What a definition may use: roles, triggers and stage actions."""
    return json_response({"roles": ROLES, "triggers": TRIGGERS, "actions": ACTIONS})


@router.get("/workflows/{name}", dependencies=[allow("process:read")])
def get_workflow(name: CodePath, rt: RuntimeDep) -> Response:
    """The newest version of a workflow; older versions at /workflows/{name}/versions/{n}."""
    workflow = rt.ledger.workflow_definition(name)
    flow = workflow.workflow()
    body = {"name": name, "version": flow.version, "versions": workflow.latest,
            "definition": flow.definition}  # fmt: skip
    return json_response(to_json_ready(body), headers={"ETag": f'"{workflow.version}"'})


@router.get("/workflows/{name}/versions/{version}", dependencies=[allow("process:read")])
def get_workflow_version(name: CodePath, version: int, rt: RuntimeDep) -> Response:
    """One published version of a workflow, as orders created under it follow it."""
    flow = rt.ledger.workflow_definition(name).workflow(version)
    body = {"name": name, "version": flow.version, "definition": flow.definition}
    return json_response(to_json_ready(body))


@router.put(
    "/workflows/{name}",
    openapi_extra={"requestBody": DEFINITION_BODY},
    dependencies=[allow("process:write")],
)
async def publish_workflow(
    name: CodePath, request: Request, rt: RuntimeDep, meta: MetaDep, version: IfMatchDep
) -> Response:
    """Publish a new version (JSON or YAML body). Orders keep the version they started
    with; new orders take this one. If-Match: "0" creates only if the workflow is new."""
    definition = await _document(request)
    if isinstance(definition, dict):
        definition.setdefault("name", name)
        if definition["name"] != name:
            raise ApiError(422, f"the body names workflow {definition['name']!r}", "invalid-input")
    outcome = rt.ledger.publish_workflow(meta, definition=definition, expected_version=version)
    result = dict(outcome.result)
    # The ETag is the workflow's own version (what If-Match compares), not the definition's.
    result["version"] = result.pop("aggregate_version")
    result["definition_version"] = outcome.result["version"]
    return command_response(type(outcome)(result, outcome.position, outcome.replayed))


@router.get("/approval-policy", dependencies=[allow("process:read")])
def get_approval_policy(rt: RuntimeDep) -> Response:
    """The approval rules in force (version 0 with no rules: nothing needs approval)."""
    policy = rt.ledger.approval_policy()
    if policy is None:
        return json_response({"version": 0, "policy": {"rules": []}})
    body = {"version": policy.latest, "policy": policy.current}
    return json_response(to_json_ready(body), headers={"ETag": f'"{policy.version}"'})


@router.put(
    "/approval-policy",
    openapi_extra={"requestBody": DEFINITION_BODY},
    dependencies=[allow("process:write")],
)
async def publish_approval_policy(
    request: Request, rt: RuntimeDep, meta: MetaDep, version: IfMatchDep
) -> Response:
    """Publish new approval rules (JSON or YAML): conditions on amount (per currency),
    discount, non-standard products and customer flags → sequential levels by role."""
    policy = await _document(request)
    outcome = rt.ledger.publish_approval_policy(meta, policy=policy, expected_version=version)
    return command_response(outcome)
