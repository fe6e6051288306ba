"""The checks of every declared slot (IOTC-006/007/008/012/013), one family of the app audit.

A mixin of `rotation.audit.evaluate._AppAudit`, which sets the attributes declared here: kept apart so each
module stays small, with `finding` here because both the slot and the token checks build findings with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from rotation.audit.controls import CONTROLS, Status
from rotation.audit.findings import Finding, age, version_hygiene, when
from rotation.domain.assignments import resolve_roles, roles_drift
from rotation.domain.lifecycle import renewal
from rotation.domain.model import AppSpec, AppToken, SecretVersion, SlotSpec, SlotState, VerifyCheck
from rotation.domain.protocol import TAG_MANAGED_BY, TAG_STAGE, TAG_TOKEN_ID

RENEWAL_SLACK = timedelta(hours=24)  # the rotate timer may run a few hours after the renewal point


class SlotChecks:
    """Judges the declared slots of one app; the app audit that mixes it in indexes the state once."""

    spec: AppSpec
    names: dict[str, str]
    currents: dict[str, SecretVersion | None]
    listed: dict[str, AppToken]
    verify: Mapping[str, VerifyCheck]
    now: datetime

    def finding(
        self, control: str, status: Status, resource: str, message: str, evidence: Mapping[str, str]
    ) -> Finding:
        """The evidence is not copied: a token's findings share its evidence dict, never changed once
        built (`Finding.evidence` is a read-only Mapping); copying it per finding doubled the audit's memory."""
        kind = CONTROLS[control].resource
        return Finding(control, status, self.spec.name, kind, resource, message, evidence)

    def slot(self, spec: SlotSpec, slot: SlotState) -> Iterator[Finding]:
        resource = f"slots/{spec.slot}"
        current = self.currents[spec.slot]
        base = {"slot": spec.slot, "secret": spec.secret}
        if current is None or current.token_id is None:
            yield self.finding("IOTC-013", "FAIL", resource, "declared slot has no current token", base)
            return
        base = {**base, "token_id": current.token_id, "version": current.version}
        yield self.finding("IOTC-013", "PASS", resource, "has a current token", base)
        yield version_hygiene(self.spec.name, spec.secret, current, (TAG_MANAGED_BY, TAG_TOKEN_ID, TAG_STAGE))
        token = self.listed.get(current.token_id)
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
        schedule = renewal(spec, token, current)
        created, expiry, due = schedule.created, schedule.expiry, schedule.due
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
