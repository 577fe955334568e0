"""The connection test against a real local HTTP server: URLs, headers, parsing, scrubbing."""

from __future__ import annotations

from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.openai_api import FakeOpenAI
from tests.provider.conftest import CANARY, FakeModelsApi
from unillm.provider.testing import ProbeTarget, model_ids, models_url, probe, scrub


def test_models_url_per_type() -> None:
    assert models_url("openai", "https://api.openai.com/v1/") == "https://api.openai.com/v1/models"
    assert models_url("anthropic", "https://api.anthropic.com") == "https://api.anthropic.com/v1/models"
    assert models_url("anthropic", "https://proxy/v1") == "https://proxy/v1/models"


def test_model_ids_tolerates_odd_payloads() -> None:
    assert model_ids({"data": [{"id": "b"}, {"id": "a"}, "junk", {}]}) == ["a", "b"]
    assert model_ids({"models": [{"name": "m"}]}) == ["m"]
    assert model_ids([1, 2]) == []


def test_scrub_replaces_the_secret_with_its_hint() -> None:
    assert scrub(f"bad key {CANARY}\r\nagain {CANARY}", CANARY) == "bad key sk-…1234  again sk-…1234"


async def test_openai_style_probe(fake_models: FakeModelsApi) -> None:
    result = await probe(ProbeTarget("openai", fake_models.base_url, CANARY))
    assert result.ok and result.models == ["gpt-4o", "gpt-4o-mini"]
    assert fake_models.seen_headers[-1]["Authorization"] == f"Bearer {CANARY}"


async def test_anthropic_probe_uses_x_api_key(fake_models: FakeModelsApi) -> None:
    result = await probe(ProbeTarget("anthropic", fake_models.root_url, CANARY))
    assert result.ok
    headers = fake_models.seen_headers[-1]
    assert headers["x-api-key"] == CANARY and headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in headers


async def test_a_rejected_key_is_not_echoed(fake_models: FakeModelsApi) -> None:
    fake_models.api_key = "the-right-one"
    result = await probe(ProbeTarget("openai", fake_models.base_url, CANARY))
    assert not result.ok and result.error is not None
    assert "401" in result.error and CANARY not in result.error and "sk-…1234" in result.error


async def test_no_base_url_and_unreachable() -> None:
    assert (await probe(ProbeTarget("custom", None, None))).error == "the provider has no base_url"
    result = await probe(ProbeTarget("custom", "http://127.0.0.1:9/v1", CANARY), timeout_seconds=5)
    assert not result.ok and result.error is not None and result.error.startswith("cannot reach")


async def test_non_json_and_redirects_are_failures(fake_models: FakeModelsApi) -> None:
    html = await probe(ProbeTarget("custom", f"{fake_models.root_url}/html", CANARY))
    assert not html.ok and html.error == "upstream answered with something that is not JSON"
    moved = await probe(ProbeTarget("custom", f"{fake_models.root_url}/moved", CANARY))
    assert not moved.ok and moved.error is not None and moved.error.startswith("upstream answered 302")


async def test_against_the_shared_openai_and_anthropic_fakes() -> None:
    async with FakeOpenAI() as openai_fake, FakeAnthropic() as anthropic_fake:
        openai_fake.expected_key = CANARY
        anthropic_fake.expected_key = CANARY
        openai = await probe(ProbeTarget("openai", openai_fake.base_url, CANARY))
        anthropic = await probe(ProbeTarget("anthropic", anthropic_fake.base_url, CANARY))
        wrong = await probe(ProbeTarget("anthropic", anthropic_fake.base_url, "sk-ant-wrong-key-0000"))
    assert openai.ok and "gpt-4o" in openai.models
    assert anthropic.ok and anthropic.models == ["claude-3-5-haiku-20241022", "claude-3-5-sonnet-20241022"]
    assert not wrong.ok and wrong.error is not None and "401" in wrong.error
