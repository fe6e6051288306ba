"""The one mapping from what a remote service answered (HTTP status, error code) to our exception classes,
for the httpx adapters (IoT Central, iottly) and the Azure SDK ones (Key Vault, Blob and Queue storage)
alike: a refused credential or permission is an `AuthError` wherever it comes from, a redirect is named as
not followed, and only the status and code are kept, never the SDK's message (it may quote a request)."""

from __future__ import annotations

from enum import Enum

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from rotation.errors import AuthError, NotFoundError, RetryableStatusError, ServiceError

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
REDIRECT_NOTE = " (a redirect, not followed)"
# a first run's 403: the deployment just granted the role, Azure RBAC and IoT Central take minutes to apply it
PROPAGATION_NOTE = " (new role assignments can take several minutes to propagate)"


def error_for(
    message: str,
    *,
    status: int | None,
    code: str | None,
    retry_after: float | None = None,
    retryable: bool = False,
    not_found: bool = False,
    auth_refused: bool = False,
) -> ServiceError:
    """The exception for an error answer. `retryable`: our own retry loop handles 429/5xx (the SDKs retry
    inside their pipeline, so their final error is not retried again). `not_found`: the caller gives a 404
    a meaning (an idempotent delete); elsewhere a 404 proves nothing and stays a ServiceError."""
    if retryable and status in RETRYABLE_STATUS:
        return RetryableStatusError(message, status=status, code=code, retry_after=retry_after)
    if status in (401, 403) or (status is None and auth_refused):
        return AuthError(message + (PROPAGATION_NOTE if status == 403 else ""), status=status, code=code)
    if not_found and status == 404:
        return NotFoundError(message, status=status, code=code)
    if status is not None and 300 <= status < 400:
        message += REDIRECT_NOTE
    return ServiceError(message, status=status, code=code)


def sdk_error(what: str, exc: BaseException, expected: str = "") -> ServiceError:
    """The RotationError for an Azure SDK failure: `<what>: got HTTP <status> <code>[, expected ...]`, or the
    exception's type name when there was no answer. Ours (raised inside the pipeline: foreign origin, invalid
    answer) pass through unchanged."""
    if isinstance(exc, ServiceError):
        return exc
    status = exc.status_code if isinstance(exc, HttpResponseError) else None
    code = _error_code(exc)
    detail = f"HTTP {status} {code or ''}".strip() if status else type(exc).__name__
    return error_for(
        f"{what}: got {detail}{expected}",
        status=status,
        code=code,
        auth_refused=isinstance(exc, ClientAuthenticationError),
    )


def _error_code(exc: BaseException) -> str | None:
    if not isinstance(exc, HttpResponseError):
        return None
    if exc.error is not None and exc.error.code:
        return str(exc.error.code)
    code = getattr(exc, "error_code", None)  # the storage SDKs' x-ms-error-code, a StorageErrorCode (str enum)
    if isinstance(code, Enum):
        code = code.value
    return str(code) if code else None
