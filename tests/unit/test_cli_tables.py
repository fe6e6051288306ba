"""CLI tables at 80 columns wrap by column: no word of a reason or message is broken across lines (only
ids are folded), the table fits the width, and it takes a bounded number of lines; severities are coloured
on a terminal only (never without one, nor with NO_COLOR)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from rotation.cli.tables import render

MESSAGES = [
    "holds forbidden role Administrator",
    (
        "fails verification: verify with GET /api/devices: got HTTP 401 Unauthorized API token is not valid for "
        "this application (unknown, revoked or bad signature)"
    ),
    "current token rot-alerts-20261127234338-t4u5 is not in the app",
    "rejected by iottly (401)",
    "unmanaged token: not declared in any policy",
    "remaining lifetime 300.0 days (above max 90.0 days; the API lists no creation time)",
    "unmanaged token: allowlist exception expired on 2026-01-31",
    "expires 2036-11-28 23:43 UTC (more than 90.0 days from now)",
    "superseded 2026-11-28 23:43 UTC, past its grace period of 24h, still in the app",
    "roles drift: the app grants Builder, the policy declares Operator",
    "an orphan token: no vault version references it (age 10.0d)",
]
SEVERITIES = ["critical", "high", "medium", "low", "info"]
APPS = ["contoso-fleet", "fabrikam-stores", "northwind-labs", "greenhouse"]
AUDIT = [
    (
        SEVERITIES[i % 5],
        "FAIL",
        f"IOTC-{i:03d}",
        f"{APPS[i % 4]}/tokens/rot-dashboard-reader-2026112{i % 10}",
        MESSAGES[i % len(MESSAGES)],
    )
    for i in range(22)
]
PLAN = [
    (
        APPS[i % 4],
        ["dashboard-reader", "auditor", "-", "maintenance"][i % 4],
        ["Mint", "Revoke", "DeleteToken", "Blocked", "FinishPromotion"][i % 5],
        MESSAGES[(i * 3) % len(MESSAGES)],
    )
    for i in range(22)
]
CASES = [
    (("severity", "status", "control", "resource", "finding"), AUDIT, 0, {3}, {4}),
    (("app", "slot", "action", "reason"), PLAN, 2, {0, 1}, {3}),
]


def _rows(text: str, start: int) -> list[list[str]]:
    """The table's logical rows, each cell its line fragments joined by spaces (a row starts where column
    `start`, short and never empty in these tables, has text)."""
    rows: list[list[list[str]]] = []
    for line in text.splitlines():
        if not line.startswith("│"):
            continue
        parts = [part.strip() for part in line.split("│")[1:-1]]
        if parts[start]:
            rows.append([[] for _ in parts])
        for cell, part in zip(rows[-1], parts, strict=True):
            if part:
                cell.append(part)
    return [[" ".join(fragments) for fragments in row] for row in rows]


@pytest.mark.parametrize(("columns", "rows", "start", "ids", "prose"), CASES)
def test_at_80_columns_words_stay_whole(
    columns: tuple[str, ...], rows: list[tuple[str, ...]], start: int, ids: set[int], prose: set[int]
) -> None:
    console = Console(width=80, record=True, force_terminal=False, color_system=None)
    console.print(render("title", columns, rows, width=80))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    shown = _rows(text, start)
    assert len(shown) == len(rows)
    for source, cells in zip(rows, shown, strict=True):
        for index, (value, cell) in enumerate(zip(source, cells, strict=True)):
            if index in ids or index in prose:  # nothing lost (ids fold)
                assert cell.replace(" ", "") == value.replace(" ", "")
            if index in prose:  # every word of 24 characters or less whole: ids and URLs in a reason may fold
                assert all(word in cell.split() for word in value.split() if len(word) <= 24), (cell, value)
            elif index not in ids:
                assert cell == value  # short columns never wrap
    assert len(text.splitlines()) <= 6 + 5 * len(rows)


def _audit(*, force_terminal: bool) -> str:
    """As the CLI's console (colour system detected), on a terminal or not."""
    out = io.StringIO()
    Console(file=out, width=80, force_terminal=force_terminal).print(render("audit", CASES[0][0], AUDIT[:5], width=80))
    return out.getvalue()


def test_severities_are_coloured_on_a_terminal() -> None:
    styled = _audit(force_terminal=True)
    assert "\x1b[1;31mcritical" in styled
    assert "\x1b[31mhigh" in styled
    assert "\x1b[33mmedium" in styled


def test_no_colour_without_a_terminal_or_with_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "\x1b[" not in _audit(force_terminal=False)
    monkeypatch.setenv("NO_COLOR", "1")
    plain = _audit(force_terminal=True)
    assert "critical" in plain
    assert not any(f"\x1b[{code}m" in plain or f";{code}m" in plain for code in ("31", "33", "36"))
