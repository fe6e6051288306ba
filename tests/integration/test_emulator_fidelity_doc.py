"""emulators/FIDELITY.md: every behaviour row names its source from the allowed set, a `spec` row names a
vendored or shared spec file that exists, and no row claims a live measurement (none was made)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "emulators" / "FIDELITY.md"
SOURCES = {"spec", "Microsoft doc", "Microsoft client code", "measured live", "assumed"}
SPEC_FILES = {p.name for p in (ROOT / "emulators" / "specs").glob("*.json")} | {"FACTS.md"}


def _rows() -> list[list[str]]:
    rows = []
    for line in DOC.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or cells[0] == "Behaviour" or set(line) <= set("|-: "):
            continue
        rows.append(cells)
    return rows


def test_every_row_has_a_source_from_the_allowed_set() -> None:
    rows = _rows()
    assert len(rows) >= 30
    bad = [(row[0], row[2] if len(row) > 2 else None) for row in rows if len(row) != 4 or row[2] not in SOURCES]
    assert bad == []
    assert all(row[3] for row in rows), "every row says where it comes from (or why it is assumed)"


def test_spec_rows_name_a_spec_file_that_exists() -> None:
    missing = [row[0] for row in _rows() if row[2] == "spec" and not any(name in row[3] for name in SPEC_FILES)]
    assert missing == []


def test_nothing_claims_a_live_measurement() -> None:
    assert [row[0] for row in _rows() if row[2] == "measured live"] == []
