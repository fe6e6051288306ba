"""`rotation doctor`: the pre-flight a platform engineer runs after deploying, before trusting the timers.

Each check answers one question a first run would otherwise answer the hard way (a 403 at 05:05, a
blocked slot, an audit that cannot upload): are the policies and schedules valid, does the identity get
tokens for both services, is it an Administrator of each app, may it write, tag, read and delete secrets
in each vault, are the report and lease storages reachable. A failed check says what is wrong and the
likely fix in one line; nothing is changed, except throwaway `doctor-<random>` secrets (and, with
`--live`, tokens) that are always removed again.

Exit codes as the rest of the CLI: 0 every check ok, 2 bad input (policies, schedules, settings), 3 some
check failed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from azure.core.exceptions import AzureError

from rotation.adapters.blobstore import build_container_client
from rotation.adapters.iotcentral import SCOPE as IOTCENTRAL_SCOPE
from rotation.adapters.storage import storage_error
from rotation.domain.model import AppSpec, IottlyAppSpec
from rotation.errors import PolicyError, RotationError, UserError
from rotation.hosting import schedules
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from rotation.policy.specs import load_app_specs, select_apps

KEYVAULT_SCOPE = "https://vault.azure.net/.default"
SCHEMA_VERSION = 1
PROPAGATION = "new role assignments can take minutes to propagate"

Status = Literal["ok", "FAIL", "skip"]


@dataclass(frozen=True)
class Check:
    status: Status
    name: str
    detail: str
    bad_input: bool = False  # a FAIL of the policies or settings: exit 2, not 3

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}  {self.detail}"


@dataclass
class DoctorReport:
    checks: list[Check] = field(default_factory=list)
    live: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, list[BaseException]] = field(default_factory=dict)  # per app, every failed probe attempt
    on_check: Callable[[Check], None] = field(default=lambda _: None, repr=False)

    def add(self, check: Check) -> Check:
        self.checks.append(check)
        self.on_check(check)
        return check

    def passed(self, name: str) -> bool:
        return any(c.name == name and c.status == "ok" for c in self.checks)

    @property
    def exit_code(self) -> int:
        if any(c.status == "FAIL" and c.bad_input for c in self.checks):
            return 2
        return 3 if any(c.status == "FAIL" for c in self.checks) else 0

    def document(self) -> dict[str, Any]:
        """What `--json` prints and `--out` keeps: never a token value (none is ever held here)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "exit_code": self.exit_code,
            "checks": [{"status": c.status, "check": c.name, "detail": c.detail} for c in self.checks],
            "live": self.live,
        }


def throwaway_id() -> str:
    """`doctor-<8 hex>`: a valid token id and secret name, never one of a slot (those are `rot-`/`iotc-`)."""
    return f"doctor-{secrets.token_hex(4)}"


# -- configuration ---------------------------------------------------------------------------------------
def config_checks(
    report: DoctorReport, settings: Settings, names: Sequence[str] | None, env: Mapping[str, str]
) -> tuple[list[AppSpec], list[IottlyAppSpec]] | None:
    """The policies through the loader the service uses, and the timers' schedules. None: bad input."""
    try:
        specs, iottly = load_app_specs(settings, env)
        chosen, iottly = _selected(specs, iottly, names)
    except PolicyError as exc:
        more = f" (and {len(exc.problems) - 1} more: run `rotation policies check`)" if len(exc.problems) > 1 else ""
        report.add(Check("FAIL", "policies", exc.problems[0] + more, bad_input=True))
        return None
    except UserError as exc:
        report.add(Check("FAIL", "apps", str(exc), bad_input=True))
        return None
    report.add(Check("ok", "policies", f"{settings.policies}: {len(chosen)} IoT Central and {len(iottly)} iottly apps"))
    try:
        found = schedules.expressions(env)
    except UserError as exc:
        report.add(Check("FAIL", "schedules", str(exc), bad_input=True))
        return None
    report.add(Check("ok", "schedules", ", ".join(f"{job} {expr!r}" for job, expr in found.items()) + " (UTC)"))
    return chosen, iottly


def _selected(
    specs: list[AppSpec], iottly: list[IottlyAppSpec], names: Sequence[str] | None
) -> tuple[list[AppSpec], list[IottlyAppSpec]]:
    """`--app` may name IoT Central and iottly apps alike; an unknown name is a user error."""
    if not names:
        return specs, iottly
    select_apps([*specs, *(AppSpec(a.name, a.base_url, a.vault, ()) for a in iottly)], names)  # unknown: raises
    return [a for a in specs if a.name in names], [a for a in iottly if a.name in names]


# -- identity --------------------------------------------------------------------------------------------
def token_claims(token: str) -> dict[str, Any]:
    """The payload of our own access token (a JWT), unverified: only to name the identity (oid, tid)."""
    try:
        payload = token.split(".")[1]
        claims: object = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def identity_check(report: DoctorReport, runtime: Runtime, scopes: Sequence[str]) -> dict[str, Any] | None:
    """A token for every scope; the claims of the IoT Central one (None when the identity got none)."""
    got: dict[str, Any] = {}
    for scope in scopes:
        try:
            token = runtime.credential_object().get_token(scope).token
        except AzureError as exc:
            report.add(
                Check(
                    "FAIL",
                    "identity",
                    f"no access token for {scope}: got {type(exc).__name__}: is the "
                    "managed identity enabled (AZURE_CLIENT_ID set to the user-assigned one), or, "
                    "locally, are you signed in (az login)?",
                )
            )
            return None
        got[scope] = token_claims(token)
    claims: dict[str, Any] = got.get(IOTCENTRAL_SCOPE) or next(iter(got.values()), {})
    who = f"object id {claims.get('oid', '?')}, tenant {claims.get('tid', '?')}"
    report.add(Check("ok", "identity", f"{who}: tokens for {', '.join(scopes)}"))
    return claims


# -- storage ---------------------------------------------------------------------------------------------
def folder_check(report: DoctorReport, name: str, folder: Path) -> None:
    """A local folder the service writes to: created if missing, a file written and removed."""
    probe = folder / f".{throwaway_id()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe.write_text("doctor", encoding="utf-8")
        probe.unlink()
    except OSError as exc:
        report.add(
            Check(
                "FAIL",
                name,
                f"folder {folder} is not writable ({type(exc).__name__}: {exc.strerror}): "
                "fix its permissions or point the setting elsewhere",
            )
        )
        return
    report.add(Check("ok", name, f"folder {folder} writable"))


def container_check(report: DoctorReport, name: str, container: Any, fix: str) -> None:
    """A blob container: exists (or will be made on first use) and can be listed."""
    try:
        if not container.exists():
            report.add(
                Check(
                    "ok",
                    name,
                    f"container {container.container_name} at {container.url} does not exist "
                    "yet: the first write creates it",
                )
            )
            return
        next(iter(container.list_blobs(results_per_page=1).by_page()), None)
    except (AzureError, RotationError) as exc:
        error = exc if isinstance(exc, RotationError) else storage_error(f"list container {container.url}", exc)
        report.add(Check("FAIL", name, f"{error}: {fix}"))
        return
    report.add(Check("ok", name, f"container {container.container_name} at {container.url} listed"))


def storage_checks(report: DoctorReport, runtime: Runtime) -> None:
    settings = runtime.settings
    folder_check(report, "reports folder", settings.reports_dir)
    if settings.reports_account_url or settings.reports_connection_string:
        container = build_container_client(
            settings.reports_container,
            account_url=settings.reports_account_url,
            connection_string=settings.reports_connection_string,
            credential=None if settings.reports_connection_string else runtime.credential_object(),
            timeout=settings.http_timeout,
        )
        container_check(
            report,
            "reports storage",
            container,
            "is the reports storage (ROTATION_REPORTS_ACCOUNT_URL or _CONNECTION_STRING) right and "
            f"reachable, and does the identity have Storage Blob Data Contributor on it? ({PROPAGATION})",
        )
    else:
        report.add(Check("skip", "reports storage", "ROTATION_REPORTS_ACCOUNT_URL unset: reports stay local"))
    host = settings.host_storage
    if host is not None and host.has_blob:
        try:
            container = runtime.host_blob_service().get_container_client(settings.lease_container)
        except UserError as exc:
            report.add(Check("FAIL", "lease storage", str(exc), bad_input=True))
            return
        container_check(
            report,
            "lease storage",
            container,
            f"is AzureWebJobsStorage right and may the identity use it? ({PROPAGATION})",
        )
    else:
        folder_check(report, "lease storage", settings.state_dir / "locks")


# -- the whole run ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DoctorOptions:
    apps: Sequence[str] | None = None
    live: bool = False
    live_budget: float = 180.0  # seconds a new token may take to be accepted before the live check fails


def run_doctor(
    options: DoctorOptions, on_check: Callable[[Check], None], env: Mapping[str, str] | None = None
) -> DoctorReport:
    """Every check, in the order a deployment breaks: input, identity, apps, vaults, storage, then live."""
    from rotation.hosting import doctor_live, doctor_remote  # noqa: PLC0415 -- they import this module

    env = os.environ if env is None else env
    report = DoctorReport(on_check=on_check)
    settings = Settings.from_env(env)
    found = config_checks(report, settings, options.apps, env)
    if found is None:
        return report
    apps, iottly = found
    runtime = Runtime(settings, apps, iottly_apps=iottly)
    try:
        scopes = ([IOTCENTRAL_SCOPE] if any(a.api_token_slot is None for a in apps) else []) + [KEYVAULT_SCOPE]
        claims = identity_check(report, runtime, scopes)
        if claims is not None:
            for app in apps:
                doctor_remote.app_check(report, runtime, app, claims)
            for vault in sorted({a.vault for a in apps} | {a.vault for a in iottly}):
                doctor_remote.vault_check(report, runtime, vault)
        storage_checks(report, runtime)
        if options.live and claims is not None:
            for app in apps:
                if report.passed(f"iotcentral {app.name}"):
                    doctor_live.live_check(report, runtime, app, options.live_budget)
                else:
                    report.add(Check("skip", f"live {app.name}", f"the iotcentral {app.name} check failed"))
    finally:
        runtime.close()
    return report
