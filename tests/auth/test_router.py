"""`/api/v1/keys` and `/api/v1/users` over ASGI with the app's lifespan (real snapshot, real bearer
keys): roles, one audit row per change, revocation effective on the next request, and a canary secret
that appears only in its creation response."""

from __future__ import annotations

import logging

import pytest

from tests.auth.conftest import ApiHarness, audit_rows
from unillm.auth import keys


async def _create(api: ApiHarness, **body: object) -> dict[str, object]:
    response = await api.request("POST", "/api/v1/keys", json={"user_id": "alice", **body})
    assert response.status_code == 201, response.text
    created: dict[str, object] = response.json()
    return created


async def test_create_list_revoke_and_the_key_stops_working_at_once(api: ApiHarness) -> None:
    created = await _create(api, tier_code="professional", name="ci", expires_days=30)
    secret = str(created["key"])
    assert secret.startswith("ulm-") and created["prefix"] == secret[:12]
    assert created["status"] == "active" and created["expires_at"] is not None
    # The new key works at once (for the gateway: any role); alice is no admin, so 403 here.
    denied = await api.request("GET", "/api/v1/keys", key=secret)
    assert denied.status_code == 403 and "role admin or viewer" in denied.json()["detail"]

    listed = await api.request("GET", "/api/v1/keys", params={"user_id": "alice"})
    assert listed.status_code == 200
    assert [item["id"] for item in listed.json()["items"]] == [created["id"]]
    assert "key" not in listed.json()["items"][0]
    one = await api.request("GET", f"/api/v1/keys/{created['id']}")
    assert one.status_code == 200 and one.json()["prefix"] == created["prefix"]

    revoked = await api.request("DELETE", f"/api/v1/keys/{created['id']}")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    after = await api.request("GET", "/api/v1/keys", key=secret)
    assert after.status_code == 401 and after.json() == {"detail": "invalid API key"}
    rows = await audit_rows(api.runtime)
    assert [r.action_type for r in rows][-2:] == ["api_key_created", "api_key_revoked"]
    assert rows[-1].user_id == "admin" and rows[-1].ip_address == "203.0.113.9"
    assert rows[-1].user_agent == "pytest-admin"


async def test_roles_viewer_reads_and_user_role_changes_apply_at_once(api: ApiHarness) -> None:
    viewer = str((await _create(api, role="viewer"))["key"])
    assert (await api.request("GET", "/api/v1/users", key=viewer)).status_code == 200
    assert (await api.request("GET", "/api/v1/keys", key=viewer)).status_code == 200
    write = await api.request("POST", "/api/v1/keys", key=viewer, json={"user_id": "bob"})
    assert write.status_code == 403
    promoted = await api.request("PATCH", "/api/v1/users/alice",
                                 json={"role": "admin", "tier_code": "starter"})
    assert promoted.status_code == 200 and promoted.json()["role"] == "admin"
    assert (await api.request("POST", "/api/v1/keys", key=viewer, json={"user_id": "bob"})).status_code == 201
    disabled = await api.request("PATCH", "/api/v1/users/alice", json={"disabled": True})
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert (await api.request("GET", "/api/v1/users", key=viewer)).status_code == 401


async def test_users_endpoints_and_errors(api: ApiHarness) -> None:
    made = await api.request("POST", "/api/v1/users", json={"id": "carol", "tier_code": "starter"})
    assert made.status_code == 201 and made.json()["tier_code"] == "starter"
    assert (await api.request("POST", "/api/v1/users", json={"id": "carol"})).status_code == 409
    got = await api.request("GET", "/api/v1/users/carol")
    assert got.status_code == 200 and got.json()["role"] == "user" and got.json()["metadata"] == {}
    listed = await api.request("GET", "/api/v1/users", params={"tier_code": "starter"})
    assert [u["id"] for u in listed.json()["items"]] == ["carol"]
    assert (await api.request("GET", "/api/v1/users/nobody")).status_code == 404
    assert (await api.request("PATCH", "/api/v1/users/nobody", json={"role": "x"})).status_code == 404
    assert (await api.request("PATCH", "/api/v1/users/carol", json={"role": "bad role"})).status_code == 422
    assert (await api.request("PATCH", "/api/v1/users/carol", json={"extra": 1})).status_code == 422
    for bad in ({"kind": "robot"}, {"expires_days": 0}, {"user_id": "a\nb"}, {"role": ""}):
        response = await api.request("POST", "/api/v1/keys", json={"user_id": "a", **bad})
        assert response.status_code == 422, bad
    assert (await api.request("DELETE", "/api/v1/keys/not-a-uuid")).status_code == 422
    missing = await api.request("DELETE", "/api/v1/keys/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert (await api.request("GET", "/api/v1/keys", params={"cursor": "zz"})).status_code == 400


@pytest.mark.parametrize("header", ["", "Basic abc", "Bearer ", "Bearer ulm-wrong"])
async def test_missing_or_wrong_bearer_is_401(api: ApiHarness, header: str) -> None:
    response = await api.client.get("/api/v1/keys", headers={"authorization": header} if header else {})
    assert response.status_code == 401


async def test_the_canary_secret_appears_only_in_its_creation_response(
        api: ApiHarness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="unillm")
    created = await _create(api, kind="service", role="viewer")
    secret = str(created["key"])
    creation_body = api.bodies[-1]
    await api.request("GET", "/api/v1/keys", key=secret)
    await api.request("GET", f"/api/v1/keys/{created['id']}")
    await api.request("GET", "/api/v1/keys", params={"include_revoked": True})
    await api.request("DELETE", f"/api/v1/keys/{created['id']}")
    await api.request("GET", "/api/v1/keys", key=secret)
    await api.request("GET", "/api/v1/keys", key=secret + "x")
    later = [body for body in api.bodies if body is not creation_body]
    assert secret in creation_body
    rows = await audit_rows(api.runtime)
    audit_text = repr([(r.user_id, r.resource_id, r.details) for r in rows])
    for needle in (secret, secret[12:], keys.hash_secret(secret)):
        assert all(needle not in body for body in later)
        assert needle not in audit_text
        assert needle not in caplog.text
