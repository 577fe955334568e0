"""GET /api/v1/audit and /api/v1/audit/verify: viewers read, other roles are refused."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.audit.conftest import RecordMany, Tamper
from unillm import deps
from unillm.app import create_app
from unillm.auth.principal import Principal
from unillm.config import Settings
from unillm.runtime import Runtime

ADMIN = Principal(user_id="admin", role="admin", tier_code="enterprise")


@pytest.fixture
def app(settings: Settings, runtime: Runtime) -> FastAPI:
    # The lifespan's start hooks belong to other domains; this router needs only the runtime.
    application = create_app(settings)
    application.state.runtime = runtime
    application.dependency_overrides[deps.get_principal] = lambda: ADMIN
    return application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://unillm.test") as http:
        yield http


async def test_list_filters_and_pages(client: httpx.AsyncClient, record_many: RecordMany) -> None:
    await record_many(3)
    first = await client.get("/api/v1/audit", params={"limit": 2, "resource_type": "provider"})
    assert first.status_code == 200
    body = first.json()
    assert [item["resource_id"] for item in body["items"]] == ["p2", "p1"]
    assert body["items"][0]["details"]["after"]["api_key"] == "***"
    second = (await client.get("/api/v1/audit", params={"limit": 2, "cursor": body["next_cursor"]})).json()
    assert [item["resource_id"] for item in second["items"]] == ["p0"]
    assert second["next_cursor"] is None
    by_actor = (await client.get("/api/v1/audit", params={"user_id": "nobody"})).json()
    assert by_actor == {"items": [], "next_cursor": None}
    by_action = (await client.get("/api/v1/audit", params={"action_type": "provider_added",
                                                            "resource_id": "p1", "actor": "admin"})).json()
    assert [item["id"] for item in by_action["items"]] == [2]
    recent = (await client.get("/api/v1/audit", params={"since": "2000-01-01T00:00:00",
                                                         "until": "2999-01-01T00:00:00Z"})).json()
    assert len(recent["items"]) == 3


async def test_bad_parameters_are_client_errors(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/audit", params={"cursor": "xyz"})).status_code == 400
    assert (await client.get("/api/v1/audit", params={"limit": 0})).status_code == 422
    assert (await client.get("/api/v1/audit", params={"since": "yesterday"})).status_code == 422


async def test_verify_reports_ok_then_the_tampered_row(client: httpx.AsyncClient, record_many: RecordMany,
                                                       tamper: Tamper) -> None:
    await record_many(3)
    ok = (await client.get("/api/v1/audit/verify")).json()
    assert ok == {"ok": True, "rows_checked": 3, "first_bad_id": None, "reason": None}
    await tamper("UPDATE audit_log SET user_id = 'someone' WHERE id = 2")
    broken = (await client.get("/api/v1/audit/verify")).json()
    assert (broken["ok"], broken["first_bad_id"]) == (False, 2)
    assert broken["reason"].startswith("row 2 was edited")


@pytest.mark.parametrize("role, status", [("viewer", 200), ("user", 403)])
async def test_roles(app: FastAPI, client: httpx.AsyncClient, runtime: Runtime, role: str,
                     status: int) -> None:
    app.dependency_overrides[deps.get_principal] = lambda: Principal(user_id="u", role=role, tier_code="free")
    assert (await client.get("/api/v1/audit")).status_code == status
    assert (await client.get("/api/v1/audit/verify")).status_code == status
