"""An Azure Key Vault secrets emulator: one instance is one vault, served at its own loopback HTTPS URL.

Several vaults are several instances sharing the `SandboxAuthority` and the `Clock`.
Run alone: ``python -m emulators.keyvault`` (see `__main__`).
"""

from emulators.keyvault.access import API_VERSIONS, ROLES, Role
from emulators.keyvault.app import DEFAULT_TENANT_ID, KeyVaultEmulator
from emulators.keyvault.store import MAX_TAGS, MAX_VALUE_BYTES, SecretSnapshot, SecretVersion

__all__ = [
    "API_VERSIONS",
    "DEFAULT_TENANT_ID",
    "MAX_TAGS",
    "MAX_VALUE_BYTES",
    "ROLES",
    "KeyVaultEmulator",
    "Role",
    "SecretSnapshot",
    "SecretVersion",
]
