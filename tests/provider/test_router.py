"""`/api/v1/llm/providers`: every endpoint's success and failure paths, roles, audit rows, and a
canary credential that must never come back out."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from sqlalchemy import select

from tests.provider.conftest import ADMIN, CANARY, USER, VIEWER, ApiHarness, FakeModelsApi
from unillm.db.config_version import read_config_version
from unillm.provider.models import LLMProvider

BASE = "/api/v1/llm/providers"


async def _create(api: ApiHarness, **body: object) -> dict[str, object]:
    payload = {"name": "main", "type": "openai", "api_key": CANARY, **body}
    response = await api.request("POST", BASE, json=payload)
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_create_read_update_delete_with_one_audit_row_each(api: ApiHarness) -> None:
    async with api.runtime.sessions() as session:
        version_before = await read_config_version(session=session)
    created = await _create(api, metadata={"connect_timeout": 3, "team": "ml"})
    assert created["api_key_hint"] == "sk-…1234"
    assert created["effective_base_url"] == "https://api.openai.com/v1"
    assert created["base_url"] is None
    assert created["created_by"] == "alice"
    assert "api_key" not in created and "api_key_encrypted" not in created
    assert await api.audit_count() == 1
    async with api.runtime.sessions() as session:
        assert await read_config_version(session=session) == version_before + 1

    pid = created["id"]
    got = await api.request("GET", f"{BASE}/{pid}")
    assert got.status_code == 200 and got.json()["metadata"] == {"connect_timeout": 3, "team": "ml"}
    listed = await api.request("GET", BASE)
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [pid]
    assert listed.json()["next_cursor"] is None

    patched = await api.request("PATCH", f"{BASE}/{pid}", json={"enabled": False,
                                                                "base_url": "https://proxy.example/v1/"})
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    assert patched.json()["base_url"] == "https://proxy.example/v1"
    assert patched.json()["api_key_hint"] == "sk-…1234"
    assert await api.audit_count() == 2

    removed = await api.request("PATCH", f"{BASE}/{pid}", json={"api_key": None})
    assert removed.status_code == 200 and removed.json()["api_key_hint"] is None
    assert await api.audit_count() == 3

    deleted = await api.request("DELETE", f"{BASE}/{pid}")
    assert deleted.status_code == 204
    assert (await api.request("GET", f"{BASE}/{pid}")).status_code == 404
    rows = await api.audit_rows()
    assert [row.action_type for row in rows] == ["provider_added", "provider_updated", "provider_updated",
                                                 "provider_removed"]
    assert {row.user_id for row in rows} == {"alice"}
    assert rows[0].ip_address == "203.0.113.7" and rows[0].user_agent == "pytest-admin"
    assert rows[0].resource_type == "provider" and rows[0].resource_id == pid


async def test_the_canary_credential_never_leaves(api: ApiHarness, fake_models: FakeModelsApi,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    created = await _create(api, type="custom", base_url=fake_models.base_url)
    pid = created["id"]
    await api.request("GET", BASE)
    await api.request("GET", f"{BASE}/{pid}")
    ok = await api.request("POST", f"{BASE}/{pid}/test")
    assert ok.json()["ok"] is True
    await api.request("PATCH", f"{BASE}/{pid}", json={"api_key": CANARY + "-v2", "name": "renamed"})
    fake_models.api_key = "something-else"
    rejected = await api.request("POST", f"{BASE}/{pid}/test")
    assert rejected.json()["ok"] is False and "401" in rejected.json()["error"]
    await api.request("POST", BASE, json={"name": "renamed", "type": "custom",  # a 409
                                          "base_url": fake_models.base_url, "api_key": CANARY})
    await api.request("POST", BASE, json={"name": "x", "type": "nope", "api_key": CANARY})  # a 422
    await api.request("DELETE", f"{BASE}/{pid}")

    leaked = [body for body in api.bodies if "DO-NOT-LEAK" in body]
    assert leaked == []
    assert "DO-NOT-LEAK" not in caplog.text
    rows = await api.audit_rows()
    assert len(rows) == 3
    for row in rows:
        assert "DO-NOT-LEAK" not in json.dumps(row.details)
    async with api.runtime.sessions() as session:
        assert (await session.scalars(select(LLMProvider))).all() == []


async def test_viewer_reads_but_every_write_is_403_without_audit(api: ApiHarness) -> None:
    created = await _create(api)
    pid = created["id"]
    for principal in (VIEWER, USER):
        api.act_as(principal)
        for method, url, body in [
            ("POST", BASE, {"name": "other", "type": "groq"}),
            ("PATCH", f"{BASE}/{pid}", {"enabled": False}),
            ("DELETE", f"{BASE}/{pid}", None),
            ("POST", f"{BASE}/{pid}/test", None),
        ]:
            response = await api.request(method, url, json=body)
            assert response.status_code == 403, (principal.role, method, url)
            assert "detail" in response.json()
    api.act_as(VIEWER)
    assert (await api.request("GET", BASE)).status_code == 200
    assert (await api.request("GET", f"{BASE}/{pid}")).status_code == 200
    api.act_as(USER)
    assert (await api.request("GET", BASE)).status_code == 403
    api.act_as(ADMIN)
    assert await api.audit_count() == 1


BAD_CREATES: list[tuple[dict[str, object], int, str]] = [
    ({"name": "c", "type": "custom"}, 400, "needs base_url"),
    ({"name": "c", "type": "bogus"}, 422, "type"),
    ({"name": "c", "type": "openai", "base_url": "ftp://example.com"}, 422, "base_url"),
    ({"name": "c", "type": "openai", "base_url": "https://example.com/v1\r\nX-Evil: 1"}, 422, "base_url"),
    ({"name": "c", "type": "openai", "metadata": {"total_timeout": 0}}, 422, "total_timeout"),
    ({"name": "c", "type": "openai", "metadata": {"connect_timeout": "fast"}}, 422, "connect_timeout"),
    ({"name": "  ", "type": "openai"}, 422, "name"),
    ({"name": "c", "type": "openai", "api_key": ""}, 422, "api_key"),
    ({"name": "c", "type": "openai", "api_key_encrypted": "x"}, 422, "api_key_encrypted"),
    ({"name": "c", "type": "openai", "metadata": {"k": "nul\u0000byte"}}, 422, "NUL"),
]


async def test_create_rejects_bad_input_without_audit(api: ApiHarness) -> None:
    for body, status, fragment in BAD_CREATES:
        response = await api.request("POST", BASE, json=body)
        assert response.status_code == status, (body, response.text)
        assert fragment in response.text, (body, response.text)
    assert await api.audit_count() == 0


async def test_name_and_type_conflicts_are_409(api: ApiHarness) -> None:
    first = await _create(api, name="shared")
    response = await api.request("POST", BASE, json={"name": "shared", "type": "openai"})
    assert response.status_code == 409
    assert "already exists" in response.json()["detail"]
    other = await _create(api, name="shared", type="groq")
    clash = await api.request("PATCH", f"{BASE}/{other['id']}", json={"type": "openai"})
    assert clash.status_code == 409
    assert await api.audit_count() == 2
    assert first["id"] != other["id"]


async def test_update_failures(api: ApiHarness) -> None:
    created = await _create(api)
    pid = created["id"]
    missing = await api.request("PATCH", f"{BASE}/{uuid.uuid4()}", json={"enabled": False})
    assert missing.status_code == 404
    to_custom = await api.request("PATCH", f"{BASE}/{pid}", json={"type": "custom"})
    assert to_custom.status_code == 400 and "base_url" in to_custom.json()["detail"]
    null_name = await api.request("PATCH", f"{BASE}/{pid}", json={"name": None})
    assert null_name.status_code == 400
    bad_id = await api.request("PATCH", f"{BASE}/not-a-uuid", json={})
    assert bad_id.status_code == 422
    assert (await api.request("DELETE", f"{BASE}/{uuid.uuid4()}")).status_code == 404
    assert (await api.request("POST", f"{BASE}/{uuid.uuid4()}/test")).status_code == 404
    assert await api.audit_count() == 1


async def test_list_paginates_and_filters(api: ApiHarness) -> None:
    for index in range(3):
        await _create(api, name=f"p{index}", type="groq" if index else "openai")
    first = await api.request("GET", BASE, params={"limit": 2})
    assert [item["name"] for item in first.json()["items"]] == ["p0", "p1"]
    cursor = first.json()["next_cursor"]
    second = await api.request("GET", BASE, params={"limit": 2, "cursor": cursor})
    assert [item["name"] for item in second.json()["items"]] == ["p2"]
    assert second.json()["next_cursor"] is None
    groq = await api.request("GET", BASE, params={"type": "groq"})
    assert [item["name"] for item in groq.json()["items"]] == ["p1", "p2"]
    bad = await api.request("GET", BASE, params={"cursor": "abc"})
    assert bad.status_code == 400


async def test_test_endpoint_reports_models_and_unreachable_hosts(api: ApiHarness,
                                                                  fake_models: FakeModelsApi) -> None:
    good = await _create(api, name="fake", type="custom", base_url=fake_models.base_url)
    result = (await api.request("POST", f"{BASE}/{good['id']}/test")).json()
    assert result["ok"] is True and result["error"] is None
    assert result["models"] == ["gpt-4o", "gpt-4o-mini"]
    assert isinstance(result["latency_ms"], int)
    assert fake_models.seen_headers[-1]["Authorization"] == f"Bearer {CANARY}"

    dead = await _create(api, name="dead", type="custom", base_url="http://127.0.0.1:9/v1")
    result = (await api.request("POST", f"{BASE}/{dead['id']}/test")).json()
    assert result["ok"] is False and "cannot reach" in result["error"]
    assert await api.audit_count() == 2
