"""What every server adapter offers and the HTTP plumbing they share: timeouts on every call, and
upstream failures (refused, slow, HTTP errors, malformed JSON) turned into one readable
`UpstreamError`/`UpstreamTimeout` naming the server, so a bad server never hangs a caller."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import aiohttp

from unillm.errors import NotSupported, UpstreamError, UpstreamTimeout

DEFAULT_TIMEOUT_SECONDS = 10.0
# A response slower than this still counts as up, but degraded.
DEGRADED_LATENCY_MS = 2000.0


@dataclass(frozen=True, slots=True)
class DiscoveredModel:
    name: str
    size_bytes: int | None = None
    quantization: str | None = None
    family: str | None = None
    context_length: int | None = None
    digest: str | None = None
    loaded: bool = False


@dataclass(frozen=True, slots=True)
class PullProgress:
    status: str
    total: int | None = None
    completed: int | None = None
    digest: str | None = None

    @property
    def done(self) -> bool:
        return self.status == "success"


class HealthResult(NamedTuple):
    status: str  # healthy | degraded | unhealthy
    latency_ms: float | None
    detail: str | None


class ServerAdapter:
    """One server's management API. Subclasses override what their server type can do."""

    server_type: ClassVar[str] = "base"

    def __init__(
        self, http: aiohttp.ClientSession, host: str, port: int, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
    ) -> None:
        self.http = http
        self.host = host
        self.port = port
        self.timeout = timeout

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def _where(self) -> str:
        return f"{self.server_type} server at {self.base_url}"

    # -- HTTP ------------------------------------------------------------------------------------
    async def request_json(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        limit_seconds: float | None = None,
        allow_empty: bool = False,
    ) -> Any:
        seconds = limit_seconds or self.timeout
        try:
            async with self.http.request(
                method, self.base_url + path, json=json_body, timeout=aiohttp.ClientTimeout(total=seconds)
            ) as response:
                raw = await response.read()
                if response.status >= 400:
                    raise UpstreamError(
                        f"{self._where()} answered {method} {path} with HTTP "
                        f"{response.status}: {error_text(raw)}",
                        upstream_status=response.status,
                    )
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"{self._where()} did not answer {method} {path} within {seconds:g} s"
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError(f"cannot connect to {self._where()}: {exc.os_error.strerror or exc}") from exc
        except aiohttp.ClientError as exc:
            raise UpstreamError(
                f"{self._where()} failed on {method} {path}: {type(exc).__name__}: {exc}"
            ) from exc
        if not raw.strip():
            if allow_empty:
                return None
            raise UpstreamError(f"{self._where()} sent an empty body for {method} {path}")
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise UpstreamError(f"{self._where()} sent malformed JSON for {method} {path}") from exc

    async def timed_probe(self, method: str, path: str) -> tuple[Any, float]:
        started = time.perf_counter()
        body = await self.request_json(method, path, allow_empty=True)
        return body, (time.perf_counter() - started) * 1000

    # -- operations ------------------------------------------------------------------------------
    async def health(self) -> HealthResult:
        """Probe the server; never raises for an upstream failure (that is the answer)."""
        try:
            _, latency = await self.timed_probe("GET", self.health_path())
        except UpstreamError as exc:
            return HealthResult("unhealthy", None, exc.message)
        if latency > DEGRADED_LATENCY_MS:
            return HealthResult("degraded", latency, f"slow answer: {latency:.0f} ms")
        return HealthResult("healthy", latency, None)

    def health_path(self) -> str:
        return "/v1/models"

    async def list_models(self) -> list[DiscoveredModel]:
        raise NotImplementedError

    async def loaded_models(self) -> list[str]:
        return [m.name for m in await self.list_models() if m.loaded]

    def _unsupported(self, what: str, why: str = "") -> NotSupported:
        return NotSupported(f"{what} is not supported by {self.server_type}{why}")

    def pull(self, model: str) -> AsyncIterator[PullProgress]:
        raise self._unsupported("pulling models")

    async def delete(self, model: str) -> None:
        raise self._unsupported("deleting models")

    async def load(self, model: str, keep_alive: str | int = -1) -> None:
        raise self._unsupported("loading models", " (it serves one model per process)")

    async def unload(self, model: str) -> None:
        raise self._unsupported("unloading models", " (it serves one model per process)")


def error_text(raw: bytes) -> str:
    """The upstream's own error message when it sent one, else the start of the body."""
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:200].decode(errors="replace").strip() or "(empty body)"
    if isinstance(body, dict):
        error = body.get("error", body.get("detail", body.get("message")))
        if isinstance(error, dict):
            error = error.get("message", error)
        if error is not None:
            return str(error)[:300]
    return str(body)[:200]


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def openai_model_entries(body: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise UpstreamError(f"{where} sent a model list without a 'data' array")
    return [entry for entry in body["data"] if isinstance(entry, dict) and isinstance(entry.get("id"), str)]
