"""Service endpoints for orchestrators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from unillm.db.migrate import current_revision, head_revision
from unillm.deps import RuntimeDep

router = APIRouter(tags=["service"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The database is reachable and migrated to head")
async def readyz(runtime: RuntimeDep) -> Response:
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        revision = await current_revision(runtime.engine)
    except Exception as exc:  # any driver error means "not ready"; say which
        return JSONResponse({"status": "unavailable", "database": f"unreachable: {type(exc).__name__}"},
                            status_code=503)
    head = head_revision()
    if revision != head:
        return JSONResponse({"status": "unavailable", "database": "reachable",
                             "migrations": f"at {revision}, head is {head}: run `unillm db upgrade`"},
                            status_code=503)
    return JSONResponse({"status": "ok", "database": "reachable", "migrations": revision})
