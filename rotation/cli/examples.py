"""The "Examples:" epilog of every command's `--help`: operators copy a working line before they read the
options. Kept in one place so that `tests/e2e/test_cli_conventions.py` can check every command has one."""

from __future__ import annotations

EXAMPLES: dict[str, tuple[str, ...]] = {
    "plan": ("rotation plan", "rotation plan --app contoso-fleet --json"),
    "rotate": (
        "rotation rotate",
        "rotation rotate --app contoso-fleet --slot dashboard-reader --now --reason 'INC-42: suspected leak'",
    ),
    "revoke": ("rotation revoke", "rotation revoke --app contoso-fleet --json"),
    "run": ("rotation run", "rotation run --fail-on medium --json"),
    "simulate": ("rotation simulate --days 90", "rotation simulate --app contoso-fleet --json"),
    "revoke-now": (
        "rotation revoke-now --app contoso-fleet --token-id ops-admin --dry-run",
        "rotation revoke-now --app contoso-fleet --token-id ops-admin --reason 'made by hand, CHG-7'",
        "rotation revoke-now --app contoso-fleet --token-id TOKEN_ID --force --reason INC-42 --yes",
    ),
    "import": ("rotation import --app greenhouse --slot ingest --reason 'new key, CHG-9' < key.txt",),
    "bootstrap": (
        "rotation bootstrap --app contoso-fleet < admin-token.txt",
        "rotation bootstrap --app contoso-fleet --object-id OBJECT_ID --tenant-id TENANT_ID < token.txt",
    ),
    "audit": (
        "rotation audit",
        "rotation audit --app contoso-fleet --format html,csv --fail-on medium",
        "rotation audit --json",
    ),
    "serve": ("rotation serve", "rotation serve --store /var/lib/rotation/jobs.sqlite --misfire-grace 600"),
    "doctor": ("rotation doctor", "rotation doctor --app contoso-fleet --live --out reports/doctor.json"),
    "version": ("rotation version", "rotation --version"),
    "policies check": ("rotation policies check", "rotation policies check policies/ extra.yaml"),
    "policies schema": ("rotation policies schema > policies/schema.json",),
    "report diff": ("rotation report diff reports/RUN1 reports/RUN2", "rotation report diff OLD NEW --json"),
}


def epilog(command: str) -> str:
    """The epilog text; typer's rich help keeps line breaks, so each example is a line of its own."""
    return "Examples:\n\n" + "\n".join(f"  $ {line}" for line in EXAMPLES[command])
