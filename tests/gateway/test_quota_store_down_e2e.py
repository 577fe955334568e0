"""The quota counter store is down: requests fail closed with a clear 503, or, when the operator
chose UNILLM_QUOTA_FAIL_OPEN, are admitted and their usage rows say so."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from tests.conftest import make_settings
from tests.gateway.conftest import Gateway
from unillm.config import Settings

HELLO = [{"role": "user", "content": "hi"}]
DEAD_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture(params=[False, True], ids=["fail-closed", "fail-open"])
def gateway_settings(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path / "data", counter_backend="redis", redis_url=DEAD_REDIS,
                         quota_fail_open=request.param)


async def test_counter_store_down(gateway: Gateway, gateway_settings: Settings) -> None:
    client = gateway.client(gateway.keys["professional"])  # openai/gpt-4o: 500 a day, so a counter applies
    if not gateway_settings.quota_fail_open:
        with pytest.raises(openai.InternalServerError) as unavailable:
            await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
        assert unavailable.value.status_code == 503
        assert unavailable.value.code == "quota_store_unavailable"
        assert "127.0.0.1:1" in unavailable.value.message
        assert await gateway.usage_rows() == []
        return
    completion = await client.chat.completions.create(model="openai/gpt-4o", messages=HELLO)
    assert completion.choices[0].message.content
    rows = await gateway.usage_rows()
    assert [r.status for r in rows] == ["success"]
    assert rows[0].metadata_.get("quota_fail_open") is True
