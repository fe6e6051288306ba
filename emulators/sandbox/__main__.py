"""`make sandbox`: start every emulator with the sample world, then show what is there.

Prints where everything listens and a per-app table of the seeded tokens (ids, roles, expiry -- never a
value), read back through the real clients: `ManagedIdentityCredential` + httpx for IoT Central,
`SecretClient` for Key Vault.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import tempfile
from pathlib import Path

import httpx
from azure.identity import ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
from rich.console import Console
from rich.table import Table

from emulators.sandbox.world import RunningWorld, running_world

SUBDOMAINS = ("contoso-fleet", "fabrikam-stores", "northwind-labs")


def show_world(world: RunningWorld, console: Console) -> None:
    settings = world.settings()
    where = Table(title="Sandbox endpoints", show_header=False)
    for key in ("IDENTITY_ENDPOINT", "SANDBOX_IOTCENTRAL_BASE", "SANDBOX_VAULT_URL", "SANDBOX_IOTTLY_URL",
                "SANDBOX_CA_BUNDLE"):
        where.add_row(key, settings[key])
    console.print(where)
    credential = ManagedIdentityCredential(identity_config=None)
    verify = ssl.create_default_context(cafile=str(world.ca.pem_path))
    tokens = Table(title="IoT Central API tokens (as the service's identity sees them)")
    for column in ("app", "token id", "roles", "expiry"):
        tokens.add_column(column)
    with httpx.Client(verify=verify, trust_env=False) as http:
        bearer = credential.get_token("https://apps.azureiotcentral.com/.default").token
        for subdomain in SUBDOMAINS:
            response = http.get(f"{world.app_url(subdomain)}/api/apiTokens", params={"api-version": "2022-07-31"},
                                headers={"Authorization": f"Bearer {bearer}"})
            if response.status_code != 200:
                tokens.add_row(subdomain, f"HTTP {response.status_code}", "identity is not a user of this app", "")
                continue
            for item in response.json()["value"]:
                roles = ", ".join(r["role"][:8] + (f"@{r['organization']}" if r.get("organization") else "")
                                  for r in item["roles"])
                tokens.add_row(subdomain, item["id"], roles, item.get("expiry", ""))
    console.print(tokens)
    secrets = Table(title=f"Key Vault secrets in {world.vault_url}")
    for column in ("secret", "versions", "latest stage", "latest token-id"):
        secrets.add_column(column)
    client = SecretClient(world.vault_url, credential, verify_challenge_resource=False,
                          connection_verify=str(world.ca.pem_path))
    for props in client.list_properties_of_secrets():
        name = str(props.name)
        versions = list(client.list_properties_of_secret_versions(name))
        tags = props.tags or {}
        secrets.add_row(name, str(len(versions)), tags.get("stage", ""), tags.get("token-id", tags.get("key-id", "")))
    console.print(secrets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.sandbox", description=__doc__)
    parser.add_argument("--dir", type=Path, default=Path(".sandbox"), help="where the CA bundle goes")
    args = parser.parse_args(argv)
    console = Console()
    with tempfile.TemporaryDirectory(prefix="sandbox-") as tmp, running_world(args.dir or Path(tmp)) as world:
        os.environ["IDENTITY_ENDPOINT"] = world.identity_endpoint
        os.environ["IDENTITY_HEADER"] = world.world.identity.header_secret
        show_world(world, console)
    console.print("[green]sandbox ok[/green]: emulators stopped. Use `make emulators` to keep them running.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
