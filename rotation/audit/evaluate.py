"""The audit, pure: `evaluate_apps(observed, policies, now)` yields one app's findings at a time (what the
audit job streams into its reports), `evaluate` the same as one sorted list; one finding per control and
resource.

No I/O and no token values: the audit job gathers what it judges (token listings, vault version
properties, verification results) and the reports render what it returns. It fails closed: an app that
could not be read completely yields an AUDIT-001 FAIL (the run then exits non-zero), never a clean page.

Linear in the fleet (issue 14: 100,000 tokens must judge in about a second): everything a token or a slot
looks up (its allowlist entry, the slot version that supersedes it, its app's verification checks, the
listed token a slot names, each slot's current version, a managed id's creation time) is indexed once per
app or per run, never scanned per token. tests/unit/test_audit_indexed.py holds the result equal to the
former per-token scans.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from rotation.audit.fanout import fanout_findings
from rotation.audit.findings import Finding, age, sort_key, when
from rotation.audit.iottly import audit_iottly
from rotation.audit.manual import manual_findings
from rotation.audit.slots import SlotChecks
from rotation.domain.events import ManualEvent
from rotation.domain.lifecycle import created_from_id, grace_ends, superseded_since, within_orphan_window
from rotation.domain.model import (
    AllowedToken,
    AppSpec,
    AppState,
    AppToken,
    IottlyAppSpec,
    KeyCheck,
    SecretVersion,
    SlotSpec,
    SlotState,
    VerifyCheck,
)
from rotation.domain.protocol import STAGE_PREVIOUS, TAG_REQUESTED_EXPIRY

FAR_FUTURE = timedelta(days=365)
DEFAULT_MAX_LIFETIME = timedelta(days=90)


@dataclass(frozen=True)
class PoisonNote:
    """An app whose fan-out message ended in the poison queue (it failed on every retry)."""

    app: str
    job: str
    count: int = 1


@dataclass(frozen=True)
class Observed:
    apps: Mapping[str, AppState]
    verify: Sequence[VerifyCheck] = ()
    keys: Sequence[KeyCheck] = ()
    poison: Sequence[PoisonNote] | None = None  # None: no fan-out queue configured
    poison_error: str | None = None  # the poison queue could not be read
    manual_events: Sequence[ManualEvent] | None = None  # None: not gathered (`rotation.audit.manual`)
    manual_error: str | None = None  # the manual-action events could not be read


@dataclass(frozen=True)
class Policies:
    apps: Sequence[AppSpec]
    iottly: Sequence[IottlyAppSpec] = ()


def _token_evidence(
    token: AppToken, created: datetime | None, names: Mapping[str, str], now: datetime
) -> dict[str, str]:
    evidence = {
        "token_id": token.id,
        "roles": ", ".join(sorted(r.label(names) for r in token.roles)) or "none",
        "expiry": when(token.expiry),
        "managed": "yes" if token.managed else "no",
    }
    if created:
        evidence["created"] = when(created)
        evidence["age"] = age(now - created)
    return evidence


class _AppAudit(SlotChecks):
    """Judges one IoT Central app. Each method yields findings for one family of controls (the slot
    checks and `finding` are in `rotation.audit.slots`)."""

    def __init__(self, spec: AppSpec, state: AppState, verify: Mapping[str, VerifyCheck], now: datetime) -> None:
        self.spec, self.state, self.verify, self.now = spec, state, verify, now
        self.names = dict(state.roles)
        self.slots = {s.slot: state.slots.get(s.slot, SlotState()) for s in spec.slots}
        self.currents = {name: slot.current for name, slot in self.slots.items()}
        self.referenced = set().union(*(s.referenced_token_ids() for s in self.slots.values()))
        self.max_lifetime = min((s.max_lifetime for s in spec.slots), default=DEFAULT_MAX_LIFETIME)
        self.limit_age, self.today = age(self.max_lifetime), now.date()
        self.wanted = {ref.casefold() for ref in spec.forbid_roles}
        self.allowed: dict[str, AllowedToken] = {}
        for allowed in spec.allow_unmanaged:  # the first entry for a token id wins, as a scan would find it
            self.allowed.setdefault(allowed.token_id, allowed)
        self.listed: dict[str, AppToken] = {}
        for token in state.tokens or ():
            self.listed.setdefault(token.id, token)
        self.previous = self._superseding_versions()
        self.requested = {  # token id -> the expiry we asked for, when the app set another (executor's tag)
            v.token_id: v.tags[TAG_REQUESTED_EXPIRY]
            for s in self.slots.values()
            for v in s.versions
            if v.token_id and TAG_REQUESTED_EXPIRY in v.tags
        }

    def _superseding_versions(self) -> dict[str, tuple[SlotSpec, SecretVersion]]:
        """token id -> the first enabled `previous` version (in slot, then version order) that names it,
        unless that slot's current version names the same token."""
        found: dict[str, tuple[SlotSpec, SecretVersion]] = {}
        for spec in self.spec.slots:
            current = self.currents[spec.slot]
            for version in self.slots[spec.slot].versions:
                token_id = version.token_id
                if (
                    token_id is not None
                    and version.stage == STAGE_PREVIOUS
                    and version.enabled
                    and not (current and current.token_id == token_id)
                ):
                    found.setdefault(token_id, (spec, version))
        return found

    def all(self) -> Iterator[Finding]:
        if self.state.complete:
            yield self.finding(
                "AUDIT-001",
                "PASS",
                "app",
                "token list and vault read completely",
                {"tokens": str(len(self.state.tokens or ())), "slots": str(len(self.slots))},
            )
        else:
            yield self.finding(
                "AUDIT-001",
                "FAIL",
                "app",
                "could not read the app completely: the audit of this app is partial",
                {"errors": "; ".join(self.state.errors) or "unknown"},
            )
        if self.state.tokens is not None:
            for token in self.state.tokens:
                yield from self.token(token)
        if self.state.complete:
            for spec in self.spec.slots:
                yield from self.slot(spec, self.slots[spec.slot])

    # -- every listed token ---------------------------------------------------------------------------
    def token(self, token: AppToken) -> Iterator[Finding]:
        resource = f"tokens/{token.id}"
        created = created_from_id(token.id)  # cached in lifecycle
        evidence = _token_evidence(token, created, self.names, self.now)
        allowed = self.allowed.get(token.id)
        if token.managed:
            yield self.finding("IOTC-001", "PASS", resource, "managed by the rotation service", evidence)
        elif allowed and allowed.until >= self.today:
            yield self.finding(
                "IOTC-001",
                "PASS",
                resource,
                f"allowlisted until {allowed.until}",
                {**evidence, "justification": allowed.justification},
            )
        else:
            why = f"allowlist exception expired on {allowed.until}" if allowed else "not declared in any policy"
            yield self.finding("IOTC-001", "FAIL", resource, f"unmanaged token: {why}", evidence)
        if allowed and not token.managed:
            expired = allowed.until < self.today
            yield self.finding(
                "IOTC-011",
                "FAIL" if expired else "PASS",
                resource,
                f"exception {'expired' if expired else 'valid'} (until {allowed.until})",
                {**evidence, "until": str(allowed.until), "justification": allowed.justification},
            )
        yield self.forbidden_roles(token, resource, evidence)
        yield from self.lifetime(token, created, resource, evidence)
        if token.managed and self.state.vault_complete:
            yield self.orphan(token, resource, evidence)
        superseded = self.previous.get(token.id)
        if superseded is not None and self.state.vault_complete:
            yield self.grace(token, resource, evidence, *superseded)

    def forbidden_roles(self, token: AppToken, resource: str, evidence: dict[str, str]) -> Finding:
        wanted = self.wanted
        held = sorted(
            r.label(self.names)
            for r in token.roles
            if r.role.casefold() in wanted or self.names.get(r.role, "").casefold() in wanted
        )
        if not held:
            return self.finding("IOTC-002", "PASS", resource, "no forbidden role", evidence)
        api_current = self.currents.get(self.spec.api_token_slot or "")
        if api_current and api_current.token_id == token.id:
            return self.finding(
                "IOTC-002",
                "MANUAL",
                resource,
                f"holds {', '.join(held)} as the service's own api_token_slot: review whether a "
                "managed identity can replace it",
                evidence,
            )
        return self.finding("IOTC-002", "FAIL", resource, f"holds forbidden role {', '.join(held)}", evidence)

    def lifetime(
        self, token: AppToken, created: datetime | None, resource: str, evidence: dict[str, str]
    ) -> Iterator[Finding]:
        limit = self.max_lifetime
        requested = self.requested.get(token.id)
        if requested is not None:  # the app does not honour requested expiries: its own choice is judged
            evidence = {**evidence, "requested_expiry": requested}
        if token.expiry is None:
            yield self.finding("IOTC-003", "FAIL", resource, "no expiry: unbounded lifetime", evidence)
            yield self.finding("IOTC-004", "FAIL", resource, "no expiry", evidence)
            return
        if created is not None:
            lifetime = token.expiry - created
            ok = lifetime <= limit
            yield self.finding(
                "IOTC-003",
                "PASS" if ok else "FAIL",
                resource,
                f"lifetime {age(lifetime)} ({'within' if ok else 'above'} max {self.limit_age})",
                {**evidence, "max_lifetime": self.limit_age},
            )
        else:
            remaining = token.expiry - self.now
            ok = remaining <= limit
            yield self.finding(
                "IOTC-003",
                "PASS" if ok else "FAIL",
                resource,
                f"remaining lifetime {age(remaining)} ({'within' if ok else 'above'} max "
                f"{self.limit_age}; the API lists no creation time)",
                {**evidence, "max_lifetime": self.limit_age},
            )
        far = token.expiry - self.now > FAR_FUTURE
        yield self.finding(
            "IOTC-004",
            "FAIL" if far else "PASS",
            resource,
            f"expires {when(token.expiry)}"
            + (" (more than a year ahead)" if far else "")
            + (f" (requested {requested}, the app set its own)" if requested else ""),
            evidence,
        )
        expired = token.expiry <= self.now
        yield self.finding(
            "IOTC-005",
            "FAIL" if expired else "PASS",
            resource,
            f"{'expired' if expired else 'expires'} {when(token.expiry)}",
            evidence,
        )

    def orphan(self, token: AppToken, resource: str, evidence: dict[str, str]) -> Finding:
        if token.id in self.referenced:
            return self.finding("IOTC-009", "PASS", resource, "referenced by a vault version", evidence)
        if within_orphan_window(token.id, self.spec.orphan_safety_window, self.now):
            return self.finding(
                "IOTC-009",
                "PASS",
                resource,
                "not referenced yet, but younger than the orphan safety window (a rotation may be in progress)",
                evidence,
            )
        return self.finding(
            "IOTC-009", "FAIL", resource, "managed token that no vault version references (orphan)", evidence
        )

    def grace(
        self, token: AppToken, resource: str, evidence: dict[str, str], spec: SlotSpec, version: SecretVersion
    ) -> Finding:
        since = superseded_since(version)
        ends = grace_ends(version, spec.grace)
        evidence = {**evidence, "slot": spec.slot, "superseded": when(since), "grace_ends": when(ends)}
        if ends <= self.now:
            return self.finding(
                "IOTC-014",
                "FAIL",
                resource,
                f"superseded {when(since)}; grace ended {age(self.now - ends)} ago",
                evidence,
            )
        return self.finding(
            "IOTC-014", "PASS", resource, f"previous token within its grace period (until {when(ends)})", evidence
        )


def evaluate(observed: Observed, policies: Policies, now: datetime) -> list[Finding]:
    """Every control for every declared app as one list, sorted: open findings first, worst severity first.
    For tests and the pure-audit benchmark; the audit job streams `evaluate_apps` instead.

    The cyclic garbage collector is paused meanwhile: the findings hold no cycles, and its full passes,
    each rescanning every finding made so far, made judging 100,000 tokens superlinear (issue 14)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return sorted((f for batch in evaluate_apps(observed, policies, now) for f in batch), key=sort_key)
    finally:
        if paused:
            gc.enable()


def evaluate_apps(observed: Observed, policies: Policies, now: datetime) -> Iterator[list[Finding]]:
    """The findings one app at a time (each batch sorted like `evaluate`, one app per batch): IoT Central
    apps in policy order, then iottly apps, then the apps only the fan-out queue names and the pseudo-app
    `-`. Only one app's findings exist at a time unless the consumer keeps them (issue 14: 1,000 apps of
    50 tokens make ~290,000 findings). Each family of controls is a generator of its own; an app's
    fan-out finding (OPS-001) and its manual actions (OPS-002) join its batch."""
    verify: dict[str, dict[str, VerifyCheck]] = {}
    for check in observed.verify:  # by app, then slot: the last check of a slot wins
        verify.setdefault(check.app, {})[check.slot] = check
    keys: dict[str, dict[str, KeyCheck]] = {}
    for key in observed.keys:
        keys.setdefault(key.app, {})[key.slot] = key
    joined: dict[str, list[Finding]] = {}  # the fan-out and manual-action findings, by app
    for finding in chain(
        fanout_findings(observed.poison, observed.poison_error, [a.name for a in policies.apps]),
        manual_findings(observed.manual_events, observed.manual_error),
    ):
        joined.setdefault(finding.app, []).append(finding)
    for spec in policies.apps:
        state = observed.apps.get(spec.name) or AppState(
            spec.name, None, vault_complete=False, errors=("not observed",)
        )
        found = list(_AppAudit(spec, state, verify.get(spec.name, {}), now).all())
        yield sorted(found + joined.pop(spec.name, []), key=sort_key)
    for iottly in policies.iottly:
        yield sorted(
            [*audit_iottly(iottly, keys.get(iottly.name, {}), now), *joined.pop(iottly.name, [])], key=sort_key
        )
    for app in sorted(joined):
        yield sorted(joined[app], key=sort_key)
