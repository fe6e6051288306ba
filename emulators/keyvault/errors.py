"""Key Vault's error vocabulary: the codes, inner codes and messages the real service answers with, so that
the SDK raises the same exception types (404 -> ResourceNotFoundError, 409 -> ResourceExistsError) and code
that matches on `error.code` / `innererror.code` behaves as it would in Azure."""

from __future__ import annotations

from emulators.core import HttpError

NOT_FOUND_HELP = (
    " If you recently deleted this secret you may be able to recover it using the correct recovery "
    "command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"
)


class KeyVaultHttpError(HttpError):
    """An `HttpError` that may carry Key Vault's `innererror.code` (ForbiddenByRbac, SecretDisabled, ...)."""

    def __init__(
        self, status: int, code: str, message: str, *, inner: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, code, message, headers)
        self.inner = inner


def bad_parameter(message: str) -> KeyVaultHttpError:
    return KeyVaultHttpError(400, "BadParameter", message)


def secret_not_found(name: str, version: str = "") -> KeyVaultHttpError:
    ident = f"{name}/{version}" if version else name
    return KeyVaultHttpError(
        404, "SecretNotFound", f"A secret with (name/id) {ident} was not found in this key vault.{NOT_FOUND_HELP}"
    )


def deleted_secret_not_found(name: str) -> KeyVaultHttpError:
    return KeyVaultHttpError(404, "SecretNotFound", f"Deleted Secret not found: {name}")


def deleted_but_recoverable(name: str) -> KeyVaultHttpError:
    return KeyVaultHttpError(
        409,
        "Conflict",
        f"Secret {name} is currently in a deleted but recoverable state, and its name cannot be reused; "
        "in this state, the secret can only be recovered or purged.",
        inner="ObjectIsDeletedButRecoverable",
    )


def secret_disabled() -> KeyVaultHttpError:
    return KeyVaultHttpError(
        403, "Forbidden", "Operation get is not allowed on a disabled secret.", inner="SecretDisabled"
    )


def purge_protected(vault_name: str) -> KeyVaultHttpError:
    return KeyVaultHttpError(
        403,
        "Forbidden",
        'Operation "purge" is not allowed because purge protection is enabled for this vault. Key Vault service '
        f"will automatically purge it after the retention period has passed.\r\nVault: {vault_name};"
        "location=sandbox",
    )
