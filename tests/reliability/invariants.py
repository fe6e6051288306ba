"""The invariants every faulted run and its convergence must keep, each as a list of problems (empty = kept).

(a) after convergence, every managed token (`rot-`) in the app is referenced by the `token-id` tag of some
    version (any stage, enabled or not) of a declared slot secret or its `-pending` staging secret, unless
    it is younger than max(orphan safety window, grace) on the emulators' clock;
(b) after convergence, for every declared slot, the value of the newest enabled version tagged
    `stage=current` authenticates against the app, as the token its `token-id` tag names;
(c) at every token deletion, the token was neither a slot's current token nor a previous one in grace:
    checked by `tap.DeleteGuard` as the DELETE arrives;
(d) every run ended with a documented exit code (0, 1, 2, 3, 4 = internal error), never with an uncaught
    traceback, and a non-zero one came with a reason (a stderr line, or a failed/skipped row or an error
    with a reason in the --json output).
"""

from __future__ import annotations

from typing import Any

from emulators.core import HttpError
from emulators.iotcentral.access import authenticate
from tests.reliability.runs import CliRun
from tests.reliability.tap import newest_current
from tests.reliability.world import APP, SAFETY, SLOTS, FaultWorld, secret_name

EXIT_CODES = frozenset({0, 1, 2, 3, 4})
TRACEBACK = "Traceback (most recent call last)"


def _json_reasons(document: Any) -> list[str]:
    """Reasons the --json output of rotate/revoke gives for what failed, was skipped or could not be read."""
    apps = document.get("apps", []) if isinstance(document, dict) else []
    reasons: list[str] = []
    for app in (a for a in apps if isinstance(a, dict)):
        reasons += [str(e) for e in app.get("errors") or [] if str(e).strip()]
        for row in (o for o in app.get("outcomes") or [] if isinstance(o, dict)):
            if row.get("status") in ("failed", "skipped"):
                reasons += [str(row[k]) for k in ("reason", "detail") if str(row.get(k) or "").strip()]
        for action in (a for a in app.get("planned") or [] if isinstance(a, dict)):
            if str(action.get("reason") or "").startswith(("app failed", "not rotated", "nothing revoked")):
                reasons.append(str(action["reason"]))
    return reasons


def run_problems(run: CliRun) -> list[str]:
    """Invariant (d) for one finished run."""
    problems = []
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    if run.returncode not in EXIT_CODES:
        problems.append(f"(d) {run.label}: exit code {run.returncode}, expected one of {sorted(EXIT_CODES)}")
    if TRACEBACK in run.stderr:
        last = lines[-1][:200] if lines else ""
        problems.append(
            f"(d) {run.label}: ended with an uncaught traceback (exit {run.returncode}: {last}), "
            "expected a documented exit code with a one-line reason"
        )
    elif run.returncode != 0 and not lines and not _json_reasons(run.document()):
        problems.append(
            f"(d) {run.label}: exit {run.returncode} without a reason, expected a stderr line or a "
            "failed row with a reason in the --json output"
        )
    return problems


def state_problems(world: FaultWorld) -> list[str]:
    """Invariants (a) and (b) on the emulators' state (after convergence)."""
    sandbox = world.sandbox
    app = sandbox.iotcentral.app(APP)
    now = sandbox.clock.now()
    versions = {slot: sandbox.vault.versions(secret_name(slot)) for slot in SLOTS}
    referenced = {
        v.tags.get("token-id")
        for slot in SLOTS
        for v in (*versions[slot], *sandbox.vault.versions(secret_name(slot) + "-pending"))
    }
    problems = [
        f"(a) managed token {info.id} (created {info.created:%Y-%m-%d %H:%M}) is alive and no version "
        f"references it, expected it revoked once {SAFETY} passed (now {now:%Y-%m-%d %H:%M})"
        for info in app.tokens.values()
        if info.id.startswith("rot-") and info.id not in referenced and now - info.created >= SAFETY
    ]
    for slot in SLOTS:
        current = newest_current(versions[slot])
        if current is None:
            problems.append(f"(b) slot {slot}: no enabled version tagged current in {secret_name(slot)}, expected one")
            continue
        token_id = current.tags.get("token-id")
        try:
            caller = authenticate(app, current.value, authority=sandbox.authority, now=now)
        except HttpError as exc:
            problems.append(
                f"(b) slot {slot}: the current version {current.version[:8]} (token {token_id}) "
                f"does not authenticate: got HTTP {exc.status} {exc.message}, expected it to"
            )
            continue
        if caller.id != token_id:
            problems.append(
                f"(b) slot {slot}: the current version {current.version[:8]} authenticates as "
                f"{caller.id}, expected the token its token-id tag names ({token_id})"
            )
    return problems
