"""The project's exception tree; services raise these, never HTTPException.

    UnillmError                      status  OpenAI code (gateway)
    ├── ConfigError                  (startup and CLI only: a setting that cannot work)
    ├── BadRequest                   400     invalid_request_error
    │   └── ContextLengthExceeded    400     context_length_exceeded
    ├── Unauthenticated              401     invalid_api_key
    ├── PermissionDenied             403     permission_denied
    │   └── ModelNotAllowed          403     model_not_allowed
    ├── NotFound                     404     not_found
    │   └── ModelNotFound            404     model_not_found
    ├── Conflict                     409     conflict
    ├── PayloadTooLarge              413     request_too_large
    ├── QuotaExceeded                429     daily_quota_exceeded (carries retry_after seconds)
    ├── UpstreamError                502     upstream_error (carries the upstream status when known)
    │   └── UpstreamTimeout          504     upstream_timeout
    ├── NotSupported                 400     not_supported (an operation a server type cannot do)
    └── ServiceUnavailable           503     service_unavailable
        ├── NoHealthyDeployment      503     no_healthy_deployment
        └── CounterStoreUnavailable  503     quota_store_unavailable

`app.py` renders them as `{"detail": message}` on the admin API and as OpenAI's
`{"error": {"message", "type", "param", "code"}}` envelope under `/v1/`.
"""

from __future__ import annotations


class UnillmError(Exception):
    status_code = 500
    code = "internal_error"
    error_type = "api_error"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class ConfigError(UnillmError):
    code = "configuration_error"


class BadRequest(UnillmError):
    status_code = 400
    code = "invalid_request_error"
    error_type = "invalid_request_error"


class ContextLengthExceeded(BadRequest):
    code = "context_length_exceeded"


class NotSupported(BadRequest):
    code = "not_supported"


class Unauthenticated(UnillmError):
    status_code = 401
    code = "invalid_api_key"
    error_type = "authentication_error"


class PermissionDenied(UnillmError):
    status_code = 403
    code = "permission_denied"
    error_type = "permission_error"


class ModelNotAllowed(PermissionDenied):
    code = "model_not_allowed"


class NotFound(UnillmError):
    status_code = 404
    code = "not_found"
    error_type = "not_found_error"


class ModelNotFound(NotFound):
    code = "model_not_found"


class Conflict(UnillmError):
    status_code = 409
    code = "conflict"
    error_type = "invalid_request_error"


class PayloadTooLarge(UnillmError):
    status_code = 413
    code = "request_too_large"
    error_type = "invalid_request_error"


class QuotaExceeded(UnillmError):
    status_code = 429
    code = "daily_quota_exceeded"
    error_type = "rate_limit_error"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class UpstreamError(UnillmError):
    status_code = 502
    code = "upstream_error"
    error_type = "upstream_error"

    def __init__(self, message: str, *, upstream_status: int | None = None,
                 retry_after: str | None = None) -> None:
        super().__init__(message)
        self.upstream_status = upstream_status
        self.retry_after = retry_after


class UpstreamTimeout(UpstreamError):
    status_code = 504
    code = "upstream_timeout"


class ServiceUnavailable(UnillmError):
    status_code = 503
    code = "service_unavailable"
    error_type = "api_error"


class NoHealthyDeployment(ServiceUnavailable):
    code = "no_healthy_deployment"


class CounterStoreUnavailable(ServiceUnavailable):
    code = "quota_store_unavailable"
