"""The audit's controls catalog: what the security team holds every application's API tokens to.

Each control is judged per resource (app, token, slot, secret version, iottly key) as PASS, FAIL or MANUAL
by `rotation.audit.evaluate`; the ids are stable, because reports, SARIF rules and run-to-run diffs key on them.
Severities follow the usual five levels (Prowler, Checkov, OCSF): critical, high, medium, low, info.
Framework references (NIST SP 800-53 Rev. 5, CIS Controls v8 safeguards, ISO/IEC 27001:2022 Annex A) let the
security team route a finding to the requirement it evidences; a control names only the ones it really tests
(API tokens and keys are bearer authenticators, not passwords: IA-5(1) is not claimed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rotation.domain.severity import Severity

Status = Literal["PASS", "FAIL", "MANUAL"]

_AUTH_DOC = "https://learn.microsoft.com/azure/iot-central/core/howto-authorize-rest-api"
_TOKENS_API = "https://learn.microsoft.com/rest/api/iotcentral/dataplane/api-tokens"
_KV_SECRETS = "https://learn.microsoft.com/azure/key-vault/secrets/about-secrets"
_KV_ROTATION = "https://learn.microsoft.com/azure/key-vault/secrets/tutorial-rotation-dual"
_ROLES_DOC = "https://learn.microsoft.com/azure/iot-central/core/howto-manage-users-roles"


@dataclass(frozen=True)
class Control:
    id: str
    title: str
    severity: Severity
    resource: str  # the kind of resource it judges
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()

    @property
    def frameworks(self) -> dict[str, tuple[str, ...]]:
        """Framework name -> requirement ids this control evidences (only frameworks with an entry)."""
        return {
            name: ids for name, ids in zip(FRAMEWORKS, FRAMEWORK_MAP.get(self.id, ((), (), ())), strict=True) if ids
        }

    @property
    def framework_summary(self) -> str:
        """`NIST IA-5; ISO A.5.17`: the docs' controls table and the CSV."""
        return (
            "; ".join(f"{name.split()[0].split('/')[0]} {', '.join(ids)}" for name, ids in self.frameworks.items())
            or "-"
        )

    @property
    def requirements(self) -> list[str]:
        """`NIST SP 800-53 Rev. 5 IA-5` style strings (OCSF compliance.requirements, SARIF tags)."""
        return [f"{name} {ref}" for name, ids in self.frameworks.items() for ref in ids]


NIST, CIS, ISO = "NIST SP 800-53 Rev. 5", "CIS Controls v8", "ISO/IEC 27001:2022"
FRAMEWORKS = (NIST, CIS, ISO)
# control id -> (NIST SP 800-53 Rev. 5 controls, CIS Controls v8 safeguards, ISO/IEC 27001:2022 Annex A controls)
# IA-5 authenticator management · AC-2 account management · AC-6 least privilege (5: privileged accounts) ·
# CA-7 continuous monitoring · CM-6 configuration settings · SI-4 system monitoring · AU-2 event logging ·
# AU-3 content of audit records · AU-12 audit record generation · SC-28 protection of information at rest.
# CIS 4.1 secure configuration process · 5.1/5.5 inventory of accounts / service accounts · 5.3 disable
# dormant accounts · 5.4 restrict administrator privileges · 6.2 access revoking process · 6.8 role-based
# access control · 8.2 collect audit logs. ISO A.5.16 identity management · A.5.17 authentication
# information · A.5.18 access rights · A.8.2 privileged access rights · A.8.9 configuration management ·
# A.8.15 logging · A.8.16 monitoring activities.
FRAMEWORK_MAP: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "AUDIT-001": (("CA-7",), (), ("A.8.16",)),
    "AUDIT-002": (("CM-6",), ("4.1",), ("A.8.9",)),
    "IOTC-001": (("AC-2", "IA-5"), ("5.1", "5.5"), ("A.5.16", "A.5.17")),
    "IOTC-002": (("AC-6", "AC-6(5)"), ("5.4", "6.8"), ("A.5.18", "A.8.2")),
    "IOTC-003": (("IA-5",), (), ("A.5.17",)),
    "IOTC-004": (("IA-5",), (), ("A.5.17",)),
    "IOTC-005": (("AC-2",), ("5.3", "6.2"), ("A.5.18",)),
    "IOTC-006": (("IA-5",), (), ("A.5.17",)),
    "IOTC-007": (("IA-5",), (), ("A.5.17",)),
    "IOTC-008": (("AC-6", "AC-2"), ("6.8",), ("A.5.18",)),
    "IOTC-009": (("AC-2",), ("5.5", "5.3"), ("A.5.18",)),
    "IOTC-010": (("IA-5", "AU-3"), ("8.2",), ("A.5.17", "A.8.15")),
    "IOTC-011": (("AC-2",), ("5.1",), ("A.5.18",)),
    "IOTC-012": (("IA-5",), (), ("A.5.17",)),
    "IOTC-013": (("IA-5",), (), ("A.5.17",)),
    "IOTC-014": (("AC-2", "IA-5"), ("6.2",), ("A.5.18",)),
    "IOTY-001": (("IA-5",), (), ("A.5.17",)),
    "IOTY-002": (("IA-5",), (), ("A.5.17",)),
    "IOTY-003": (("IA-5", "SC-28"), (), ("A.5.17",)),
    "OPS-001": (("SI-4", "CA-7"), (), ("A.8.16",)),
    "OPS-002": (("AU-2", "AU-3", "AU-12"), ("8.2",), ("A.8.15",)),
}

CATALOG: tuple[Control, ...] = (
    Control(
        "AUDIT-001",
        "The audit could read the application and its vault completely",
        "high",
        "app",
        "A partial token listing or an unreadable vault could hide a violating token: the audit fails closed "
        "instead of reporting a clean application.",
        "Check the service's access (IoT Central user role, Key Vault Secrets Officer) and the error in the "
        "evidence, then run `rotation audit --app APP` again.",
        (_AUTH_DOC,),
    ),
    Control(
        "AUDIT-002",
        "The declared policies are valid",
        "critical",
        "policy",
        "Without valid policies nothing can be judged; the audit refuses to produce a clean report.",
        "Run `rotation policies check` and fix the line it names.",
        (),
    ),
    Control(
        "IOTC-001",
        "Every API token is declared (managed or allowlisted)",
        "high",
        "token",
        "A token made by hand in the web UI has no owner, no rotation and no audit trail; API tokens are "
        "bearer credentials that grant their roles to whoever holds them.",
        "Declare the token's use as a slot so the service manages it, or add it to `allow_unmanaged` with an "
        "`until` date and a justification; otherwise delete it (`rotation revoke-now`).",
        (_TOKENS_API,),
    ),
    Control(
        "IOTC-002",
        "No API token holds a forbidden role (administrator by default)",
        "critical",
        "token",
        "An administrator API token can create users and new tokens: leaking it hands over the application. "
        "Least privilege asks for the narrowest role that does the job.",
        "Change the slot's roles to a narrower built-in or custom role (rotation re-mints it), or delete the "
        "token. Add a role to `forbid_roles` to tighten the rule.",
        (_ROLES_DOC,),
    ),
    Control(
        "IOTC-003",
        "API token lifetime is within max_lifetime",
        "high",
        "token",
        "The longer a token lives, the longer a leaked copy works; short-lived tokens bound the exposure.",
        "Managed tokens: lower `lifetime` in the policy (rotation renews). Unmanaged tokens: replace them with "
        "a managed slot or delete them.",
        (_AUTH_DOC,),
    ),
    Control(
        "IOTC-004",
        "API token has an expiry, not in the far future",
        "high",
        "token",
        "A token without an expiry, or one expiring years ahead, is effectively permanent.",
        "Replace it with a managed slot (expiry set at mint time) or delete it.",
        (_TOKENS_API,),
    ),
    Control(
        "IOTC-005",
        "No expired API token is still listed",
        "medium",
        "token",
        "Expired tokens no longer authenticate, but they clutter the list and hide what is really in use; "
        "they show that revocation is not running.",
        "Run `rotation revoke` (it deletes expired managed tokens) or delete the token in the web UI.",
        (),
    ),
    Control(
        "IOTC-006",
        "A slot's current token is renewed before its renewal threshold passes",
        "medium",
        "slot",
        "A token past its renewal point that was not replaced means rotation is not running; the slot drifts "
        "towards an outage at expiry.",
        "Check the rotate timer's last runs and failures, then run `rotation rotate --app APP`.",
        (),
    ),
    Control(
        "IOTC-007",
        "The vault's current token exists in the application",
        "critical",
        "slot",
        "Consumers read the current version from Key Vault; if that token was deleted from the app, every "
        "consumer fails to authenticate.",
        "Run `rotation rotate --app APP --slot SLOT --now` to mint and promote a working token.",
        (_KV_ROTATION,),
    ),
    Control(
        "IOTC-008",
        "A slot's current token holds exactly the declared roles",
        "high",
        "slot",
        "Roles that differ from the policy are either too broad (privilege creep) or too narrow (outage).",
        "Rotation re-mints the token with the declared roles: run `rotation rotate --app APP`.",
        (_ROLES_DOC,),
    ),
    Control(
        "IOTC-009",
        "Every managed token is referenced by a vault version",
        "medium",
        "token",
        "A managed token no version references (a crashed run's leftover) is a live credential nobody uses or watches.",
        "Run `rotation revoke`: it deletes orphans older than `orphan_safety_window`.",
        (),
    ),
    Control(
        "IOTC-010",
        "The vault version records expiry and the rotation tags",
        "low",
        "secret-version",
        "Without `expires_on` Key Vault cannot warn before expiry and consumers cannot see it; without the "
        "tags, revocation by id and audit trails cannot link the version to its token.",
        "Let the service write the version (`rotation rotate --now`), or set expires_on and the tags "
        "(managed-by, token-id or key-id, stage) on the version.",
        (_KV_SECRETS,),
    ),
    Control(
        "IOTC-011",
        "Allowlist exceptions for unmanaged tokens have not expired",
        "medium",
        "token",
        "An exception is a dated promise to migrate; an expired one means the promise was not kept.",
        "Migrate the consumer to a managed slot and delete the token, or renew the exception with a new "
        "`until` and justification after review.",
        (),
    ),
    Control(
        "IOTC-012",
        "A slot's current token authenticates against the application",
        "critical",
        "slot",
        "A current token that fails verification means consumers are failing right now (or the vault holds "
        "a corrupted value).",
        "Run `rotation rotate --app APP --slot SLOT --now`; if it keeps failing, check the app's token list "
        "and the slot's `verify` path.",
        (_AUTH_DOC,),
    ),
    Control(
        "IOTC-013",
        "Every declared slot has a current token",
        "high",
        "slot",
        "A declared consumer without a token cannot work; either rotation never ran for it or its token was "
        "revoked in an incident.",
        "Run `rotation rotate --app APP` (it mints the missing token).",
        (),
    ),
    Control(
        "IOTC-014",
        "Superseded tokens are revoked after their grace period",
        "medium",
        "token",
        "The previous token stays valid only for the grace period that lets consumers pick up the new one; "
        "after that it is an unneeded live credential.",
        "Run `rotation revoke` (it revokes superseded tokens past grace by id).",
        (_KV_ROTATION,),
    ),
    Control(
        "IOTY-001",
        "The iottly key in the vault is accepted by iottly",
        "critical",
        "iottly-key",
        "A key iottly rejects (401) means its consumers are failing; it was probably deleted in the web UI "
        "before the new one was imported.",
        "Create a key in the iottly web UI (project dashboard → OPEN → Manage API keys → Create), then "
        "`rotation import --app APP --slot SLOT` with the key on stdin.",
        (),
    ),
    Control(
        "IOTY-002",
        "The iottly key is younger than max_age",
        "medium",
        "iottly-key",
        "iottly keys can only be made in its web UI, so the service cannot rotate them; an old key needs a "
        "person to rotate it.",
        "Rotate by hand: 1) iottly web UI → project dashboard → OPEN → Manage API keys → Create a key; "
        "2) `rotation import --app APP --slot SLOT` with the new key on stdin (it checks the key first); "
        "3) wait until consumers use the new version; 4) delete the old key in the same web UI page.",
        (),
    ),
    Control(
        "IOTY-003",
        "Every declared iottly key is in the vault",
        "high",
        "iottly-key",
        "A declared key with no vault version leaves its consumers without a credential, or with one kept "
        "outside the vault.",
        "Create the key in the iottly web UI and run `rotation import --app APP --slot SLOT` with it on stdin.",
        (),
    ),
    Control(
        "OPS-001",
        "No application keeps failing in the fan-out queue",
        "high",
        "app",
        "A message in the poison queue means an app failed rotation or revocation on every retry; its "
        "tokens are no longer renewed.",
        "Read the function's failure logs for the app, fix the cause, then run `rotation run --app APP`.",
        (),
    ),
    Control(
        "OPS-002",
        "Manual actions on an application are recorded and reviewed",
        "info",
        "manual-action",
        "revoke-now, rotate --now, import and bootstrap are acts of a person outside the schedule; each "
        "leaves an event (who, what, why, when, outcome) that a reviewer confirms was intended.",
        "Confirm with the person named in the evidence that the action and its reason were intended; "
        "a failed action may need to be repeated.",
        (),
    ),
)

CONTROLS: dict[str, Control] = {c.id: c for c in CATALOG}
