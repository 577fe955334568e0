"""Fuzz every endpoint of the app's own OpenAPI document: no input may produce a 500.

Schemathesis generates valid and invalid requests for each operation and sends them in-process
(ASGI) as an admin, against a migrated, seeded SQLite database. The example budget is small so
the whole run stays well under a minute; a failure is reshrunk by Hypothesis to a minimal case.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.python import asgi

from tests import backends
from tests.conftest import make_settings
from unillm import deps
from unillm.app import create_app
from unillm.auth.principal import Principal

MAX_EXAMPLES = 6
# Calls every registered model server, and the fuzzer registers servers at random host names: that
# would leave 127.0.0.1. It takes no input, so fuzzing it would add nothing the server tests lack.
SKIPPED = {("POST", "/api/v1/model-servers/health-check-all")}
ADMIN = Principal(user_id="fuzzer", role="admin", tier_code="enterprise")


@pytest.fixture
def fuzz_app(templates: backends.Templates, tmp_path: Path) -> Iterator[object]:
    backends.STATE.used.add("sqlite")
    database_url = templates.sqlite_copy(tmp_path / "fuzz.db")
    app = create_app(make_settings(database_url, tmp_path / "data"))
    app.dependency_overrides[deps.get_principal] = lambda: ADMIN
    yield app
    asgi.shutdown_lifespans()  # the lifespan schemathesis started for this app


def test_no_endpoint_answers_500(fuzz_app: object) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzz_app)
    failures: list[str] = []
    operations = 0
    with asgi.get_client(fuzz_app) as client:  # type: ignore[arg-type]
        for result in schema.get_all_operations():
            operation = result.ok()
            if (operation.method.upper(), operation.path) in SKIPPED:
                continue
            operations += 1
            strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                                 operation.as_strategy(GenerationMode.NEGATIVE))

            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(case=strategy)
            def check(case: schemathesis.Case) -> None:
                response = case.call(session=client)
                assert response.status_code < 500, (
                    f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}\n"
                    f"  query={case.query!r} body={case.body!r}")

            try:
                check()
            except Exception as exc:  # a 500, or the app's own exception surfacing through ASGI
                failures.append(f"{operation.method.upper()} {operation.path}: {type(exc).__name__}: {exc}")
    assert operations > 20
    assert failures == []
