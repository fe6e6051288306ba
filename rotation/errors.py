"""One exception tree. Messages say what was found and what was expected ("got X, expected Y") and
never carry a secret value. `UserError`s (bad input) map to exit code 2 without a traceback."""

from __future__ import annotations


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
