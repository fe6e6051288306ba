"""`python -m emulators.keyvault [--vault-name N] [--dir D] [--env-file F] [--purge-protection]`: one vault
and the managed-identity endpoint that can reach it, until SIGTERM/SIGINT.

A vault alone is unusable: only tokens signed by its own `SandboxAuthority` are accepted, and a separate
`python -m emulators.identity` process has another key. So this also serves the identity endpoint on the
same authority and clock, grants its system identity Key Vault Secrets Officer, and prints what a client
needs: SANDBOX_VAULT_URL, SANDBOX_CA_BUNDLE, IDENTITY_ENDPOINT, IDENTITY_HEADER, SANDBOX_SERVICE_OBJECT_ID.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from emulators.core import Clock, SandboxAuthority, SandboxCA
from emulators.core.runner import run_until_signalled
from emulators.identity import IdentityEmulator, ManagedIdentity
from emulators.keyvault.app import KeyVaultEmulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.keyvault", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--vault-name", default="kv-sandbox")
    parser.add_argument("--dir", type=Path, help="where the CA bundle goes (default: a temporary folder)")
    parser.add_argument("--env-file", type=Path, help="also write the KEY=value lines to this file")
    parser.add_argument("--purge-protection", action="store_true", help="refuse purges, as such a vault does")
    args = parser.parse_args(argv)
    clock, authority = Clock(), SandboxAuthority()
    service = ManagedIdentity("rotation-service")
    identity = IdentityEmulator(authority, system=service, clock=clock)
    vault = KeyVaultEmulator(
        authority,
        vault_name=args.vault_name,
        tenant_id=service.tenant_id,
        clock=clock,
        purge_protection=args.purge_protection,
    )
    vault.grant(service.object_id, "officer")
    with tempfile.TemporaryDirectory(prefix="keyvault-") as tmp:
        ca = SandboxCA(args.dir or Path(tmp))
        with identity.serve() as endpoint, vault.serve(ca) as vault_url:
            run_until_signalled(
                {
                    "SANDBOX_VAULT_URL": vault_url,
                    "SANDBOX_CA_BUNDLE": str(ca.pem_path),
                    "IDENTITY_ENDPOINT": endpoint,
                    "IDENTITY_HEADER": identity.header_secret,
                    "SANDBOX_SERVICE_OBJECT_ID": service.object_id,
                },
                args.env_file,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
