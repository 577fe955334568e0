"""`/api/v1/access/tier-rules` and `/api/v1/access/permissions`: success and failure paths, roles,
one audit row per successful change and none for a failed one, and the config-version bump."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from tests.provider.conftest import ADMIN, USER, VIEWER, ApiHarness, start_harness
from unillm.config import Settings
from unillm.db.config_version import read_config_version

RULES = "/api/v1/access/tier-rules"
PERMISSIONS = "/api/v1/access/permissions"
SEEDED_RULES = 50


@pytest.fixture
async def api(settings: Settings) -> AsyncIterator[ApiHarness]:
    async for harness in start_harness(settings):
        yield harness


async def _version(api: ApiHarness) -> int:
    async with api.runtime.sessions() as session:
        return await read_config_version(session=session)


async def test_lists_seeded_rules_by_tier_then_priority(api: ApiHarness) -> None:
    everything = (await api.request("GET", RULES)).json()
    assert len(everything["items"]) == SEEDED_RULES and everything["next_cursor"] is None
    trial = (await api.request("GET", RULES, params={"tier_code": "trial"})).json()["items"]
    assert [rule["priority"] for rule in trial] == [100, 90, 90, 90, 85, 0]
    assert trial[-1] == {**trial[-1], "model_pattern": "*", "allowed": False, "max_requests_per_day": 0}
    tiers = [rule["tier_code"] for rule in everything["items"]]
    assert tiers == sorted(tiers)
    page = (await api.request("GET", RULES, params={"limit": 20})).json()
    assert len(page["items"]) == 20
    rest = (await api.request("GET", RULES, params={"limit": 40, "cursor": page["next_cursor"]})).json()
    assert [r["id"] for r in page["items"] + rest["items"]] == [r["id"] for r in everything["items"]]
    assert (await api.request("GET", RULES, params={"cursor": "-1"})).status_code == 400


async def test_tier_rule_create_update_delete(api: ApiHarness) -> None:
    version = await _version(api)
    created = await api.request("POST", RULES, json={"tier_code": "gold", "model_pattern": "openai/*",
                                                     "max_requests_per_day": 10, "priority": 7})
    assert created.status_code == 201, created.text
    rule = created.json()
    assert rule["allowed"] is True and rule["max_context_length"] is None
    assert await _version(api) == version + 1

    patched = await api.request("PATCH", f"{RULES}/{rule['id']}",
                                json={"max_requests_per_day": None, "allowed": False, "priority": -3})
    assert patched.status_code == 200, patched.text
    assert patched.json()["max_requests_per_day"] is None and patched.json()["allowed"] is False
    assert patched.json()["priority"] == -3
    gold = (await api.request("GET", RULES, params={"tier_code": "gold"})).json()["items"]
    assert [r["id"] for r in gold] == [rule["id"]]

    assert (await api.request("DELETE", f"{RULES}/{rule['id']}")).status_code == 204
    assert (await api.request("GET", RULES, params={"tier_code": "gold"})).json()["items"] == []
    rows = await api.audit_rows()
    assert [row.action_type for row in rows] == ["tier_rule_added", "tier_rule_updated", "tier_rule_removed"]
    assert rows[1].details is not None and rows[0].resource_id == rule["id"]
    assert {row.user_id for row in rows} == {"alice"}
    assert await _version(api) == version + 3


BAD_RULES: list[tuple[dict[str, object], str]] = [
    ({"tier_code": "gold", "model_pattern": ""}, "model_pattern"),
    ({"tier_code": "gold", "model_pattern": "   "}, "model_pattern"),
    ({"tier_code": "gold", "model_pattern": "openai/*\r\nx"}, "control characters"),
    ({"tier_code": "", "model_pattern": "a"}, "tier_code"),
    ({"tier_code": "gold", "model_pattern": "a", "max_requests_per_day": -1}, "max_requests_per_day"),
    ({"tier_code": "gold", "model_pattern": "a", "max_context_length": -5}, "max_context_length"),
    ({"tier_code": "gold", "model_pattern": "a", "priority": "high"}, "priority"),
    ({"tier_code": "gold", "model_pattern": "a", "priority": 2**40}, "priority"),
    ({"tier_code": "gold", "model_pattern": "a", "surprise": 1}, "surprise"),
]


async def test_tier_rule_validation(api: ApiHarness) -> None:
    for body, fragment in BAD_RULES:
        response = await api.request("POST", RULES, json=body)
        assert response.status_code == 422, (body, response.text)
        assert fragment in response.text, (body, response.text)
    assert await api.audit_count() == 0


async def test_tier_rule_conflicts_and_missing(api: ApiHarness) -> None:
    duplicate = await api.request("POST", RULES, json={"tier_code": "trial", "model_pattern": "ollama/*"})
    assert duplicate.status_code == 409 and "already has a rule" in duplicate.json()["detail"]
    created = (await api.request("POST", RULES, json={"tier_code": "trial", "model_pattern": "x/*"})).json()
    clash = await api.request("PATCH", f"{RULES}/{created['id']}", json={"model_pattern": "ollama/*"})
    assert clash.status_code == 409
    null_pattern = await api.request("PATCH", f"{RULES}/{created['id']}", json={"model_pattern": None})
    assert null_pattern.status_code == 400
    bad = await api.request("PATCH", f"{RULES}/{created['id']}", json={"max_context_length": -1})
    assert bad.status_code == 422
    assert (await api.request("PATCH", f"{RULES}/{uuid.uuid4()}", json={"priority": 1})).status_code == 404
    assert (await api.request("DELETE", f"{RULES}/{uuid.uuid4()}")).status_code == 404
    assert await api.audit_count() == 1


async def test_permissions_create_filter_delete(api: ApiHarness) -> None:
    version = await _version(api)
    bodies = [
        {"model_id": "openai/gpt-4o", "access_type": "user", "access_value": "bob"},
        {"model_id": "openai/*", "access_type": "role", "access_value": "researcher", "allowed": False},
        {"model_id": "openai/gpt-4o", "access_type": "tier", "access_value": "free"},
    ]
    created = []
    for body in bodies:
        response = await api.request("POST", PERMISSIONS, json=body)
        assert response.status_code == 201, response.text
        created.append(response.json())
    assert created[0]["created_by"] == "alice" and created[1]["allowed"] is False
    assert await _version(api) == version + 3
    by_model = (await api.request("GET", PERMISSIONS, params={"model_id": "openai/gpt-4o"})).json()
    assert {p["access_type"] for p in by_model["items"]} == {"user", "tier"}
    by_type = (await api.request("GET", PERMISSIONS, params={"access_type": "role"})).json()["items"]
    assert [p["access_value"] for p in by_type] == ["researcher"]
    by_value = (await api.request("GET", PERMISSIONS, params={"access_value": "bob"})).json()["items"]
    assert [p["id"] for p in by_value] == [created[0]["id"]]
    page = (await api.request("GET", PERMISSIONS, params={"limit": 2})).json()
    assert len(page["items"]) == 2 and page["next_cursor"] == "2"

    assert (await api.request("DELETE", f"{PERMISSIONS}/{created[0]['id']}")).status_code == 204
    assert (await api.request("DELETE", f"{PERMISSIONS}/{created[0]['id']}")).status_code == 404
    rows = await api.audit_rows()
    assert [row.action_type for row in rows] == ["permission_added"] * 3 + ["permission_removed"]
    assert rows[-1].resource_type == "permission" and rows[-1].resource_id == created[0]["id"]


BAD_PERMISSIONS: list[dict[str, object]] = [
    {"model_id": "a", "access_type": "group", "access_value": "x"},
    {"model_id": "", "access_type": "user", "access_value": "x"},
    {"model_id": "a\nb", "access_type": "user", "access_value": "x"},
    {"model_id": "a", "access_type": "user", "access_value": ""},
    {"model_id": "a", "access_type": "user"},
]


async def test_permission_validation(api: ApiHarness) -> None:
    for body in BAD_PERMISSIONS:
        assert (await api.request("POST", PERMISSIONS, json=body)).status_code == 422, body
    assert await api.audit_count() == 0


async def test_duplicate_permission_is_409(api: ApiHarness) -> None:
    body = {"model_id": "ollama/*", "access_type": "agent", "access_value": "brigade"}
    assert (await api.request("POST", PERMISSIONS, json=body)).status_code == 201
    again = await api.request("POST", PERMISSIONS, json={**body, "allowed": False})
    assert again.status_code == 409 and "already exists" in again.json()["detail"]
    assert (await api.request("GET", PERMISSIONS, params={"access_type": "nobody"})).status_code == 422
    assert await api.audit_count() == 1


async def test_viewer_reads_and_every_write_is_403(api: ApiHarness) -> None:
    rule = (await api.request("POST", RULES, json={"tier_code": "t", "model_pattern": "p"})).json()
    permission = (await api.request("POST", PERMISSIONS, json={"model_id": "m", "access_type": "user",
                                                               "access_value": "u"})).json()
    writes = [
        ("POST", RULES, {"tier_code": "t", "model_pattern": "q"}),
        ("PATCH", f"{RULES}/{rule['id']}", {"priority": 5}),
        ("DELETE", f"{RULES}/{rule['id']}", None),
        ("POST", PERMISSIONS, {"model_id": "m", "access_type": "user", "access_value": "v"}),
        ("DELETE", f"{PERMISSIONS}/{permission['id']}", None),
    ]
    for principal in (VIEWER, USER):
        api.act_as(principal)
        for method, url, body in writes:
            response = await api.request(method, url, json=body)
            assert response.status_code == 403, (principal.role, method, url)
    api.act_as(VIEWER)
    assert (await api.request("GET", RULES)).status_code == 200
    assert (await api.request("GET", PERMISSIONS)).status_code == 200
    api.act_as(USER)
    assert (await api.request("GET", RULES)).status_code == 403
    api.act_as(ADMIN)
    assert await api.audit_count() == 2
