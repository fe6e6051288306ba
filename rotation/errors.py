"""One exception tree. Messages say what was found and what was expected ("got X, expected Y") and
never carry a secret value. `UserError`s (bad input) map to exit code 2 without a traceback."""

from __future__ import annotations

from typing import Generic, TypeVar

R = TypeVar("R")


class RotationError(Exception):
    """Base of every error the service raises on purpose."""


class UserError(RotationError):
    """Bad input from a person: a policy file, a flag, stdin. Exit code 2, nothing changed."""


class PolicyError(UserError):
    """A policy file is invalid. `str()` is `file:line path.to.field: got X, expected Y`."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class ConfigError(UserError):
    """A setting (environment, app setting, CLI option) is missing or invalid."""


class ValidationError(UserError):
    """A value (subdomain, token id, URL) is not acceptable before it reaches a URL."""


class InvalidValue(ValidationError):  # noqa: N818 -- a ValidationError; the name reads as the message
    """`what: got X, expected Y`, with the parts kept for callers that format their own line."""

    def __init__(self, what: str, got: object, expected: str) -> None:
        super().__init__(f"{what}: got {got!r}, expected {expected}")
        self.what = what
        self.got = got
        self.expected = expected


class ServiceError(RotationError):
    """A remote service answered with an error or could not be reached after retries."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class NotFoundError(ServiceError):
    """The remote resource does not exist (HTTP 404)."""


class AuthError(ServiceError):
    """The remote service refused our credential (401) or permission (403)."""


class IncompleteListingError(ServiceError):
    """A paged listing could not be read to its end: fail closed, revoke nothing."""


class VerificationError(RotationError):
    """A freshly minted or current token did not work against its app."""


class ForeignOriginError(ServiceError):
    """A request was about to leave the origin its client was built for; it was not sent."""


class RetryableStatusError(ServiceError):
    """A status worth retrying (429, 5xx); `retry_after` is the server's Retry-After in seconds, if any."""

    def __init__(self, message: str, *, status: int, code: str | None, retry_after: float | None) -> None:
        super().__init__(message, status=status, code=code)
        self.retry_after = retry_after


class NoAnswerError(ServiceError):
    """No complete answer. `ambiguous`: the request was sent, so it may have been applied."""

    def __init__(self, message: str, *, ambiguous: bool) -> None:
        super().__init__(message)
        self.ambiguous = ambiguous


class WireError(ServiceError):
    """An answer that is not what the API defines: not JSON, too large, or mistyped. Never believed."""


class InvalidVersionError(ServiceError):
    """A version's properties lack what a `SecretVersion` needs, or name another vault or secret."""


class AppFailedError(RotationError, Generic[R]):
    """The app of a queue message failed: raised so that the host retries the message, then poisons it.
    `result` is the job's result (`rotation.engine.jobs.JobResult`) for the summary."""

    def __init__(self, message: str, result: R) -> None:
        super().__init__(message)
        self.result = result


class InvalidMessageError(RotationError):
    """A message that names no known job or app, or is not the JSON `enqueue_apps` writes."""


class JobFailedError(RotationError):
    """The job ran and something failed (the per-app summary says what); the invocation must fail."""
