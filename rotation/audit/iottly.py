"""The audit of iottly keys: they can only be made in iottly's web UI, so the service checks them (in the
vault, accepted by iottly, younger than max_age) and tells a person how to rotate them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime

from rotation.audit.findings import Finding, age, version_hygiene, when
from rotation.domain.model import IottlyAppSpec, IottlyKeySpec, KeyCheck, SecretVersion, SlotState
from rotation.domain.protocol import TAG_IMPORTED_AT, TAG_MANAGED_BY, TAG_STAGE


def audit_iottly(spec: IottlyAppSpec, checks: Mapping[str, KeyCheck], now: datetime) -> Iterator[Finding]:
    for key in spec.keys:
        resource = f"keys/{key.slot}"
        check = checks.get(key.slot)
        current = SlotState(check.versions).current if check else None
        base = {"slot": key.slot, "secret": key.secret}
        if check is None or current is None:
            if check is not None and check.error:
                yield Finding(
                    "AUDIT-001",
                    "FAIL",
                    spec.name,
                    "app",
                    f"keys/{key.slot}/read",
                    "could not read the key's vault secret",
                    {**base, "errors": check.error},
                )
                continue
            yield Finding(
                "IOTY-003", "FAIL", spec.name, "iottly-key", resource, "no current version in the vault", base
            )
            continue
        base = {**base, "version": current.version, "key_id": current.tags.get("key-id", "unknown")}
        yield Finding("IOTY-003", "PASS", spec.name, "iottly-key", resource, "in the vault", base)
        yield version_hygiene(spec.name, key.secret, current, (TAG_MANAGED_BY, TAG_STAGE))
        yield _acceptance(spec.name, key.slot, check, base)
        yield _key_age(spec.name, key, current, base, now)


def _acceptance(app: str, slot: str, check: KeyCheck, base: Mapping[str, str]) -> Finding:
    """IOTY-001, or AUDIT-001 when iottly could not say (an unknown answer is never a pass)."""
    if check.valid is None:
        return Finding(
            "AUDIT-001",
            "FAIL",
            app,
            "app",
            f"keys/{slot}/verify",
            "could not check the key with iottly",
            {**base, "errors": check.error or "unknown"},
        )
    return Finding(
        "IOTY-001",
        "PASS" if check.valid else "FAIL",
        app,
        "iottly-key",
        f"keys/{slot}",
        "accepted by iottly" if check.valid else "rejected by iottly (401)",
        base,
    )


def _key_age(app: str, key: IottlyKeySpec, current: SecretVersion, base: Mapping[str, str], now: datetime) -> Finding:
    """IOTY-002: an old key is MANUAL, not FAIL, because only a person can make a new one in iottly."""
    imported = _imported_at(current)
    key_age = now - imported
    evidence = {**base, "imported": when(imported), "age": age(key_age), "max_age": age(key.max_age)}
    resource = f"keys/{key.slot}"
    if key_age > key.max_age:
        return Finding(
            "IOTY-002",
            "MANUAL",
            app,
            "iottly-key",
            resource,
            f"key is {age(key_age)} old (max {age(key.max_age)}): rotate it by hand",
            evidence,
        )
    return Finding("IOTY-002", "PASS", app, "iottly-key", resource, f"key is {age(key_age)} old", evidence)


def _imported_at(version: SecretVersion) -> datetime:
    raw = version.tags.get(TAG_IMPORTED_AT)
    try:
        return datetime.fromisoformat(raw) if raw else version.created_on
    except ValueError:
        return version.created_on
