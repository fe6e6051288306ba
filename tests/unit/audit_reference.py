"""The pure audit as it was before it was indexed (per-token scans of allowlists, verification checks and
slot versions): the reference that tests/unit/test_audit_indexed.py compares `evaluate` against. Not used by
the service; kept verbatim but for this docstring and its
inputs (`Observed`, `Policies`), imported from the real module."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from rotation.audit.controls import CONTROLS, Status
from rotation.audit.evaluate import Observed, Policies
from rotation.audit.findings import Finding, age, sort_key, version_hygiene, when
from rotation.audit.iottly import audit_iottly
from rotation.domain.assignments import resolve_roles, roles_drift
from rotation.domain.lifecycle import created_from_id, jitter_offset
from rotation.domain.model import (
    AppSpec,
    AppState,
    AppToken,
    SecretVersion,
    SlotSpec,
    SlotState,
    VerifyCheck,
)
from rotation.domain.protocol import STAGE_PREVIOUS, TAG_MANAGED_BY, TAG_STAGE, TAG_TOKEN_ID

FAR_FUTURE = timedelta(days=365)
RENEWAL_SLACK = timedelta(hours=24)  # the rotate timer may run a few hours after the renewal point
DEFAULT_MAX_LIFETIME = timedelta(days=90)


def _token_evidence(token: AppToken, names: Mapping[str, str], now: datetime) -> dict[str, str]:
    evidence = {
        "token_id": token.id,
        "roles": ", ".join(sorted(r.label(names) for r in token.roles)) or "none",
        "expiry": when(token.expiry),
        "managed": "yes" if token.managed else "no",
    }
    created = created_from_id(token.id)
    if created:
        evidence["created"] = when(created)
        evidence["age"] = age(now - created)
    return evidence


def _version_evidence(secret: str, version: SecretVersion) -> dict[str, str]:
    return {
        "secret": secret,
        "version": version.version,
        "stage": version.stage or "none",
        "created": when(version.created_on),
        "expires_on": when(version.expires_on),
    }


class _AppAudit:
    """Judges one IoT Central app. Each method yields findings for one family of controls."""

    def __init__(self, spec: AppSpec, state: AppState, verify: Mapping[str, VerifyCheck], now: datetime) -> None:
        self.spec, self.state, self.verify, self.now = spec, state, verify, now
        self.names = dict(state.roles)
        self.slots = {s.slot: state.slots.get(s.slot, SlotState()) for s in spec.slots}
        self.referenced = set().union(*(s.referenced_token_ids() for s in self.slots.values()))
        self.max_lifetime = min((s.max_lifetime for s in spec.slots), default=DEFAULT_MAX_LIFETIME)

    def finding(
        self, control: str, status: Status, resource: str, message: str, evidence: Mapping[str, str]
    ) -> Finding:
        kind = CONTROLS[control].resource
        return Finding(control, status, self.spec.name, kind, resource, message, dict(evidence))

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
        evidence = _token_evidence(token, self.names, self.now)
        allowed = next((a for a in self.spec.allow_unmanaged if a.token_id == token.id), None)
        if token.managed:
            yield self.finding("IOTC-001", "PASS", resource, "managed by the rotation service", evidence)
        elif allowed and allowed.until >= self.now.date():
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
            expired = allowed.until < self.now.date()
            yield self.finding(
                "IOTC-011",
                "FAIL" if expired else "PASS",
                resource,
                f"exception {'expired' if expired else 'valid'} (until {allowed.until})",
                {**evidence, "until": str(allowed.until), "justification": allowed.justification},
            )
        yield self.forbidden_roles(token, resource, evidence)
        yield from self.lifetime(token, resource, evidence)
        if token.managed and self.state.vault_complete:
            yield self.orphan(token, resource, evidence)
        superseded = self.superseded(token)
        if superseded is not None and self.state.vault_complete:
            yield self.grace(token, resource, evidence, *superseded)

    def forbidden_roles(self, token: AppToken, resource: str, evidence: dict[str, str]) -> Finding:
        wanted = {ref.casefold() for ref in self.spec.forbid_roles}
        held = sorted(
            r.label(self.names)
            for r in token.roles
            if r.role.casefold() in wanted or self.names.get(r.role, "").casefold() in wanted
        )
        if not held:
            return self.finding("IOTC-002", "PASS", resource, "no forbidden role", evidence)
        api_slot = self.slots.get(self.spec.api_token_slot or "")
        if api_slot and api_slot.current and api_slot.current.token_id == token.id:
            return self.finding(
                "IOTC-002",
                "MANUAL",
                resource,
                f"holds {', '.join(held)} as the service's own api_token_slot: review whether a "
                "managed identity can replace it",
                evidence,
            )
        return self.finding("IOTC-002", "FAIL", resource, f"holds forbidden role {', '.join(held)}", evidence)

    def lifetime(self, token: AppToken, resource: str, evidence: dict[str, str]) -> Iterator[Finding]:
        created = created_from_id(token.id)
        limit = self.max_lifetime
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
                f"lifetime {age(lifetime)} ({'within' if ok else 'above'} max {age(limit)})",
                {**evidence, "max_lifetime": age(limit)},
            )
        else:
            remaining = token.expiry - self.now
            ok = remaining <= limit
            yield self.finding(
                "IOTC-003",
                "PASS" if ok else "FAIL",
                resource,
                f"remaining lifetime {age(remaining)} ({'within' if ok else 'above'} max "
                f"{age(limit)}; the API lists no creation time)",
                {**evidence, "max_lifetime": age(limit)},
            )
        far = token.expiry - self.now > FAR_FUTURE
        yield self.finding(
            "IOTC-004",
            "FAIL" if far else "PASS",
            resource,
            f"expires {when(token.expiry)}" + (" (more than a year ahead)" if far else ""),
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
        created = created_from_id(token.id)
        if created is not None and self.now - created < self.spec.orphan_safety_window:
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

    def superseded(self, token: AppToken) -> tuple[SlotSpec, SecretVersion] | None:
        for spec in self.spec.slots:
            slot = self.slots[spec.slot]
            current = slot.current
            for version in slot.versions:
                if (
                    version.token_id == token.id
                    and version.stage == STAGE_PREVIOUS
                    and version.enabled
                    and not (current and current.token_id == token.id)
                ):
                    return spec, version
        return None

    def grace(
        self, token: AppToken, resource: str, evidence: dict[str, str], spec: SlotSpec, version: SecretVersion
    ) -> Finding:
        since = version.superseded_at or version.created_on
        ends = since + spec.grace
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

    # -- every declared slot --------------------------------------------------------------------------
    def slot(self, spec: SlotSpec, slot: SlotState) -> Iterator[Finding]:
        resource = f"slots/{spec.slot}"
        current = slot.current
        base = {"slot": spec.slot, "secret": spec.secret}
        if current is None or current.token_id is None:
            yield self.finding("IOTC-013", "FAIL", resource, "declared slot has no current token", base)
            return
        base = {**base, "token_id": current.token_id, "version": current.version}
        yield self.finding("IOTC-013", "PASS", resource, "has a current token", base)
        yield version_hygiene(self.spec.name, spec.secret, current, (TAG_MANAGED_BY, TAG_TOKEN_ID, TAG_STAGE))
        token = self.state.token(current.token_id)
        if token is None:
            yield self.finding(
                "IOTC-007", "FAIL", resource, f"current token {current.token_id} is not in the app", base
            )
            return
        yield self.finding("IOTC-007", "PASS", resource, "current token exists in the app", base)
        yield self.roles(spec, token, resource, base)
        yield self.renewal(spec, current, token, resource, base)
        check = self.verify.get(spec.slot)
        if check is not None:
            status: Status = "PASS" if check.ok else "FAIL"
            message = "authenticates" if check.ok else f"fails verification: {check.error or 'unknown error'}"
            yield self.finding(
                "IOTC-012",
                status,
                resource,
                message,
                {**base, "verify": f"{spec.verify_method} {spec.verify_path or '/api/devices'}"},
            )

    def roles(self, spec: SlotSpec, token: AppToken, resource: str, base: dict[str, str]) -> Finding:
        want = resolve_roles(spec, self.names)
        evidence = {**base, "roles": ", ".join(sorted(r.label(self.names) for r in token.roles))}
        if isinstance(want, str):
            return self.finding("IOTC-008", "FAIL", resource, want, evidence)
        drift = roles_drift(want, token.roles, self.names)
        return self.finding("IOTC-008", "FAIL" if drift else "PASS", resource, drift or "roles as declared", evidence)

    def renewal(
        self, spec: SlotSpec, current: SecretVersion, token: AppToken, resource: str, base: dict[str, str]
    ) -> Finding:
        created = created_from_id(token.id) or current.created_on
        expiry = min(e for e in (token.expiry, current.expires_on, created + spec.lifetime) if e is not None)
        threshold = spec.renew_at - jitter_offset(spec.app, spec.slot, spec.jitter)
        due = created + (expiry - created) * threshold
        evidence = {**base, "created": when(created), "renewal_due": when(due), "expiry": when(expiry)}
        if self.now >= due + RENEWAL_SLACK:
            return self.finding(
                "IOTC-006",
                "FAIL",
                resource,
                f"renewal was due {when(due)}, {age(self.now - due)} ago; expires {when(expiry)}",
                evidence,
            )
        return self.finding("IOTC-006", "PASS", resource, f"renewal due {when(due)}", evidence)


def evaluate(observed: Observed, policies: Policies, now: datetime) -> list[Finding]:
    """Every control for every declared app, sorted: open findings first, worst severity first."""
    findings: list[Finding] = []
    for spec in policies.apps:
        state = observed.apps.get(spec.name) or AppState(
            spec.name, None, vault_complete=False, errors=("not observed",)
        )
        verify = {c.slot: c for c in observed.verify if c.app == spec.name}
        findings.extend(_AppAudit(spec, state, verify, now).all())
    for iottly in policies.iottly:
        findings.extend(audit_iottly(iottly, {c.slot: c for c in observed.keys if c.app == iottly.name}, now))
    if observed.poison_error is not None:
        findings.append(
            Finding(
                "AUDIT-001",
                "FAIL",
                "-",
                "app",
                "poison-queue",
                "could not read the fan-out poison queue",
                {"errors": observed.poison_error},
            )
        )
    if observed.poison is not None:
        poisoned = {p.app: p for p in observed.poison}
        declared = [a.name for a in policies.apps]
        for name in [*declared, *sorted(set(poisoned) - set(declared))]:
            note = poisoned.get(name)
            findings.append(
                Finding(
                    "OPS-001",
                    "FAIL" if note else "PASS",
                    name,
                    "app",
                    "fanout",
                    f"{note.job} failed on every retry ({note.count} message(s) in the poison queue)"
                    if note
                    else "no message in the poison queue",
                    {"job": note.job, "messages": str(note.count)} if note else {},
                )
            )
    return sorted(findings, key=sort_key)
