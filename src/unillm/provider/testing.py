"""`POST /providers/{id}/test`: list the provider's models to prove the URL and credential work.

Reports `{ok, latency_ms, models, error}`. The credential is scrubbed from any upstream text
before it is reported, because some upstreams echo the key they rejected.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from sqlalchemy.ext.asyncio import AsyncSession

from unillm.config import Settings
from unillm.provider import service as provider_service
from unillm.provider.crypto import CredentialCipher, mask
from unillm.provider.schemas import ProviderTestResult

TEST_TIMEOUT_SECONDS = 15.0
ANTHROPIC_VERSION = "2023-06-01"
MAX_ERROR_CHARS = 300
MAX_MODELS = 1000
# OpenRouter's list is a few MB; anything far larger is not a models list.
MAX_BODY_BYTES = 32 * 1024 * 1024


def models_url(provider_type: str, base_url: str) -> str:
    base = base_url.rstrip("/")
    if provider_type == "anthropic" and not base.endswith("/v1"):
        return f"{base}/v1/models"
    return f"{base}/models"


def request_headers(provider_type: str, api_key: str | None) -> dict[str, str]:
    headers = {"accept": "application/json", "user-agent": "unillm-provider-test"}
    if api_key is None:
        return headers
    if provider_type == "anthropic":
        headers["x-api-key"] = api_key
        headers["anthropic-version"] = ANTHROPIC_VERSION
    else:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


def scrub(text: str, secret: str | None) -> str:
    """Upstream text made safe to show: the secret (and its stripped form) replaced by its hint."""
    text = text.strip().replace("\r", " ").replace("\n", " ")
    if secret:
        for variant in {secret, secret.strip()}:
            if variant:
                text = text.replace(variant, mask(secret))
    return text[:MAX_ERROR_CHARS]


def model_ids(payload: Any) -> list[str]:
    """Model ids from an OpenAI-style `{"data": [{"id": ...}]}` (Anthropic uses the same shape)."""
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        data = payload.get("models") if isinstance(payload, dict) else None
    if not isinstance(data, list):
        return []
    ids = [str(item.get("id") or item.get("name")) for item in data
           if isinstance(item, dict) and (item.get("id") or item.get("name"))]
    return sorted(ids)[:MAX_MODELS]


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    provider_type: str
    base_url: str | None
    api_key: str | None = field(repr=False)


async def load_probe_target(*, session: AsyncSession, settings: Settings,
                            provider_id: uuid.UUID) -> ProbeTarget:
    """Read what the probe needs; callers end the transaction before probing (it may take seconds)."""
    provider = await provider_service.get_or_raise(session=session, provider_id=provider_id)
    api_key = provider_service.decrypt_credential(provider, CredentialCipher.from_settings(settings))
    return ProbeTarget(provider_type=provider.type, base_url=provider_service.effective_base_url(provider),
                       api_key=api_key)


async def probe(target: ProbeTarget, *, timeout_seconds: float = TEST_TIMEOUT_SECONDS) -> ProviderTestResult:
    """One GET of the models list; every failure is reported in the result, never raised."""
    provider_type, base_url, api_key = target.provider_type, target.base_url, target.api_key
    if not base_url:
        return ProviderTestResult(ok=False, latency_ms=None, models=[], error="the provider has no base_url")
    url = models_url(provider_type, base_url)
    started = time.perf_counter()
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        async with aiohttp.ClientSession(timeout=timeout) as http, \
                http.get(url, headers=request_headers(provider_type, api_key), allow_redirects=False) as resp:
            body = await resp.content.read(MAX_BODY_BYTES + 1)
            latency_ms = int((time.perf_counter() - started) * 1000)
            status = resp.status
    except TimeoutError:
        return ProviderTestResult(ok=False, latency_ms=None, models=[],
                                  error=f"no answer from {url} within {timeout_seconds:g} s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return ProviderTestResult(ok=False, latency_ms=None, models=[],
                                  error=scrub(f"cannot reach {url}: {type(exc).__name__}: {exc}", api_key))
    if status >= 300:
        text = body[:MAX_ERROR_CHARS * 4].decode(errors="replace")
        return ProviderTestResult(ok=False, latency_ms=latency_ms, models=[],
                                  error=scrub(f"upstream answered {status}: {text}", api_key))
    if len(body) > MAX_BODY_BYTES:
        return ProviderTestResult(ok=False, latency_ms=latency_ms, models=[],
                                  error=f"the models list is larger than {MAX_BODY_BYTES} bytes")
    try:
        payload = json.loads(body)
    except ValueError:
        return ProviderTestResult(ok=False, latency_ms=latency_ms, models=[],
                                  error="upstream answered with something that is not JSON")
    return ProviderTestResult(ok=True, latency_ms=latency_ms, models=model_ids(payload), error=None)
