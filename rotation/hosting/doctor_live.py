"""`rotation doctor --live`: what the IoT Central documentation leaves open, measured on the real app.

Per app, one throwaway token (`doctor-<random>`, the least built-in role: Operator, expiry in one hour)
is minted and then, always, deleted in `finally`: deleting it needs no further evidence, its id was made
up a moment ago by this run and names nothing else. Measured: how long until the new token is accepted
(a cheap GET polled with backoff, within a budget: the emulator and, reportedly, the service refuse a
fresh token for a while), whether the requested expiry was honoured, whether the listing's `nextLink`
keeps the api-version (only when the listing has one), and whether a 429, if one occurs, carries
`Retry-After`. The figures go into the doctor's JSON document (`live`), next to the checks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rotation.adapters.iotcentral import IoTCentralClient
from rotation.domain.model import AppSpec, RoleAssignment
from rotation.domain.secret import Secret
from rotation.errors import RetryableStatusError, RotationError, ServiceError, VerificationError
from rotation.hosting.doctor import Check, DoctorReport, throwaway_id
from rotation.hosting.doctor_remote import Probe
from rotation.hosting.runtime import Runtime

OPERATOR = RoleAssignment("ae2c9854-393b-4f97-8c42-479d70ce626e")
LIFETIME = timedelta(hours=1)
CHEAP_GET = "/api/devices"  # Operator may read devices; the answer is small
FIRST_WAIT, LONGEST_WAIT = 0.25, 8.0
EXPIRY_SLACK = timedelta(minutes=1)
REFUSED = frozenset({400, 401, 403, 404, 422})
"""Answers to a create that prove no token was made (a 409, a 5xx or no answer may hide one)."""


def accepted_after(
    client: IoTCentralClient, token: Secret, budget: float, sleep: Callable[[float], None] = time.sleep
) -> dict[str, Any]:
    """Poll the cheap GET with the new token, backing off, until it is accepted or `budget` seconds pass."""
    start, wait, attempts = time.monotonic(), FIRST_WAIT, 0
    while True:
        attempts += 1
        try:
            client.verify(token, "GET", CHEAP_GET)
        except VerificationError:
            elapsed = time.monotonic() - start
            if elapsed + wait > budget:
                return {"accepted": False, "accepted_after_s": None, "attempts": attempts, "budget_s": budget}
            sleep(wait)
            wait = min(LONGEST_WAIT, wait * 2)
            continue
        return {
            "accepted": True,
            "accepted_after_s": round(time.monotonic() - start, 3),
            "attempts": attempts,
            "budget_s": budget,
        }


def expiry_figures(requested: datetime, answered: datetime | None) -> dict[str, Any]:
    honoured = answered is not None and abs(answered - requested) <= EXPIRY_SLACK
    return {
        "requested_expiry": requested.isoformat(),
        "answered_expiry": answered.isoformat() if answered else None,
        "expiry_honoured": honoured,
    }


def listing_figures(runtime: Runtime, app: AppSpec, failures: list[BaseException]) -> dict[str, Any]:
    """The first page of the token listing, read raw: does its nextLink keep the api-version? 429s seen."""
    if app.api_token_slot is not None:
        return {
            "next_link": None,
            "next_link_keeps_api_version": None,
            "throttled": 0,
            "retry_after_on_429": None,
            "listing_note": "api_token_slot app: the raw listing is read with the identity only",
        }
    probe = Probe(runtime, app, failures)
    page = probe.token_page()
    keeps = None
    if page.next_link is not None:
        keeps = "api-version" in parse_qs(urlsplit(page.next_link).query)
    throttles = [f for f in probe.failures if isinstance(f, RetryableStatusError) and f.status == 429]
    return {
        "next_link": page.next_link is not None,
        "next_link_keeps_api_version": keeps,
        "throttled": len(throttles),
        "retry_after_on_429": all(f.retry_after is not None for f in throttles) if throttles else None,
    }


def _summary(figures: dict[str, Any]) -> str:
    accepted = (
        f"accepted after {figures['accepted_after_s']:.2f} s ({figures['attempts']} attempts)"
        if figures.get("accepted")
        else "never accepted"
    )
    expiry = (
        "expiry honoured"
        if figures.get("expiry_honoured")
        else (f"expiry NOT honoured (asked {figures.get('requested_expiry')}, got {figures.get('answered_expiry')})")
    )
    keeps = {True: "nextLink keeps api-version", False: "nextLink DROPS api-version", None: "no nextLink"}[
        figures.get("next_link_keeps_api_version")
    ]
    throttled = figures.get("throttled", 0)
    retry = {True: "with Retry-After", False: "WITHOUT Retry-After"}[figures["retry_after_on_429"]] if throttled else ""
    seen = f"{throttled} 429s {retry}".strip() if throttled else "no 429"
    return f"{accepted}; {expiry}; {keeps}; {seen}; {figures.get('cleanup', '?')}"


def live_check(report: DoctorReport, runtime: Runtime, app: AppSpec, budget: float) -> None:
    name, token_id = f"live {app.name}", throwaway_id()
    requested = (runtime.now() + LIFETIME).replace(microsecond=0)
    figures: dict[str, Any] = {"token_id": token_id, "role": "Operator"}
    report.live[app.name] = figures
    failure = ""
    client: IoTCentralClient | None = None
    try:
        client = runtime.iotcentral(app)
        try:
            created, value = client.create_token(token_id, frozenset({OPERATOR}), requested)
        except ServiceError as exc:
            if exc.status is not None and exc.status in REFUSED:
                client = None  # refused before anything was made: nothing to delete
            raise
        figures.update(expiry_figures(requested, created.expiry))
        figures.update(accepted_after(client, value, budget))
        figures.update(listing_figures(runtime, app, report.failures.setdefault(app.name, [])))
        if not figures["accepted"]:
            failure = (
                f"token {token_id} was not accepted within {budget:g} s: retry later or raise the budget "
                "(--live-budget); the rotation verifies new tokens and would block"
            )
    except RotationError as exc:
        failure = f"{exc}"
    finally:
        figures["cleanup"] = _delete(client, token_id)
    if figures["cleanup"].startswith("NOT"):
        failure = f"{failure}; {figures['cleanup']}" if failure else figures["cleanup"]
    report.add(Check("FAIL" if failure else "ok", name, failure or _summary(figures)))


def _delete(client: IoTCentralClient | None, token_id: str) -> str:
    if client is None:
        return "nothing minted"
    try:
        deleted = client.delete_token(token_id)
    except RotationError as exc:
        return f"NOT deleted ({exc}): delete token {token_id} by hand"
    return "token deleted" if deleted else "nothing to delete"
