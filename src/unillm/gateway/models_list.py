"""`GET /v1/models`: the models the caller may use.

Local models and aliases come from the routing table; a cloud provider serves an open-ended list,
so its models are those with a price (the bundled list plus the operator's) whose provider type
has an enabled provider.
"""

from __future__ import annotations

import orjson

from unillm.access.policy import Subject
from unillm.auth.principal import Principal
from unillm.gateway.state import GatewayState
from unillm.runtime import Runtime


def list_models_for(runtime: Runtime, principal: Principal) -> bytes:
    state: GatewayState = runtime.components["gateway"]
    policy = runtime.components["snapshot"].current.policy
    subject = Subject(user_id=principal.user_id, role=principal.role, tier_code=principal.tier_code,
                      agent_id=principal.agent_id)
    tables = state.current()
    cloud_types = {credential.type for credential in tables.credentials.values() if credential.enabled}
    candidates = set(tables.routing.model_ids())
    candidates.update(model_id for model_id in tables.prices if model_id.split("/", 1)[0] in cloud_types)
    data = [
        {"id": model_id, "object": "model", "created": 0, "owned_by": model_id.split("/", 1)[0]}
        for model_id in sorted(candidates)
        if policy.decide(subject, model_id).allowed
    ]
    return orjson.dumps({"object": "list", "data": data})
