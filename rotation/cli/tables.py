"""How a CLI table fits a narrow terminal: it wraps inside its columns at word boundaries instead of
breaking words (at 80 columns, folding every column cut "Administrator" into "Administrato|r" and made 22
findings take 149 lines).

Columns are of three kinds, by header: short values (severity, status, codes, names) never wrap; ids
(resources, tokens, secret names) are the only ones folded mid-word, since they have no spaces to break
at; prose (reasons, messages) wraps at spaces and is at least as wide as its longest word, up to
PROSE_WORD_MAX, so that no ordinary word is cut. Severity cells are coloured; rich drops colours without
a terminal and with NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, NamedTuple

from rich.table import Table
from rich.text import Text

Kind = Literal["short", "id", "prose"]
PROSE_WORD_MAX = 24  # a longer "word" in a reason is an id or a URL: folded rather than widening the column
PROSE_MIN = 32  # below this a reason takes more lines than the names beside it are worth
ID_MIN = 12
NAMES = frozenset({"app", "slot"})

SHORT = frozenset(
    {
        "severity",
        "status",
        "control",
        "change",
        "action",
        "app",
        "slot",
        "mints",
        "revocations",
        "min overlap",
        "gaps",
        "lifetime",
        "renew_at",
        "grace",
        "max_age",
    }
)
IDS = frozenset({"resource", "token", "secret", "uid"})
SEVERITY_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


class Col(NamedTuple):
    """A column whose kind its header does not tell (e.g. `finding` is a uid in `report diff`)."""

    header: str
    kind: Kind


def kind_of(column: str | Col) -> Kind:
    if isinstance(column, Col):
        return column.kind
    return "short" if column in SHORT else "id" if column in IDS else "prose"


def render(title: str, columns: Sequence[str | Col], rows: Iterable[Sequence[object]], width: int = 80) -> Table:
    """The rich Table of `rows` (cells as str) for a terminal `width` columns wide."""
    cells = [[str(cell) for cell in row] for row in rows]
    headers = [c.header if isinstance(c, Col) else c for c in columns]
    kinds = _fit([kind_of(c) for c in columns], headers, cells, width)
    widths = _widths(kinds, headers, cells, width)
    view = Table(title=title, title_justify="left")
    for header, kind, chosen in zip(headers, kinds, widths, strict=True):
        view.add_column(header, no_wrap=kind == "short", overflow="fold", width=chosen)
    severity = headers.index("severity") if "severity" in headers else None
    for row in cells:
        view.add_row(
            *(
                Text(cell, style=SEVERITY_STYLES.get(cell, "")) if i == severity else Text(cell)
                for i, cell in enumerate(row)
            )
        )
    return view


def _fixed(kinds: list[Kind], headers: list[str], cells: list[list[str]]) -> int:
    return sum(max(len(h), _longest(cells, i, whole=True)) for i, h in enumerate(headers) if kinds[i] == "short")


def _minimum(kind: Kind, header: str, cells: list[list[str]], index: int) -> int:
    if kind == "id":
        return max(len(header), min(ID_MIN, _longest(cells, index, whole=True)))
    return max(len(header), min(PROSE_WORD_MAX, _longest(cells, index, whole=False)))


def _fit(kinds: list[Kind], headers: list[str], cells: list[list[str]], width: int) -> list[Kind]:
    """Names (app, slot) stay whole unless that leaves prose less than PROSE_MIN columns: then the widest
    is folded like an id, so that the reasons, which are what the table is read for, keep their words."""
    kinds = list(kinds)
    while "prose" in kinds:
        ids = sum(_minimum("id", h, cells, i) for i, h in enumerate(headers) if kinds[i] == "id")
        room = (width - 3 * len(kinds) - 1 - _fixed(kinds, headers, cells) - ids) // kinds.count("prose")
        names = [i for i, h in enumerate(headers) if kinds[i] == "short" and h in NAMES]
        if room >= PROSE_MIN or not names:
            break
        kinds[max(names, key=lambda i: _longest(cells, i, whole=True))] = "id"
    return kinds


def _widths(kinds: list[Kind], headers: list[str], cells: list[list[str]], width: int) -> list[int | None]:
    """None (rich's natural width) when everything fits; otherwise the room left by the short columns,
    shared 2:1 between prose and ids, never below a column's minimum (rich would widen a collapsed column
    back to its min_width and overflow the terminal) nor above what its longest cell needs."""
    flexible = [i for i, kind in enumerate(kinds) if kind != "short"]
    room = width - 3 * len(kinds) - 1 - _fixed(kinds, headers, cells)
    natural = {i: max(len(headers[i]), _longest(cells, i, whole=True)) for i in flexible}
    if sum(natural.values()) <= room:
        return [None] * len(kinds)
    weight = {i: 2 if kinds[i] == "prose" else 1 for i in flexible}
    chosen = {
        i: min(natural[i], max(_minimum(kinds[i], headers[i], cells, i), room * weight[i] // sum(weight.values())))
        for i in flexible
    }
    spare = room - sum(chosen.values())
    for i in sorted(flexible, key=lambda i: -weight[i]):  # what a capped column leaves goes to prose first
        extra = max(0, min(spare, natural[i] - chosen[i]))
        chosen[i] += extra
        spare -= extra
    return [chosen.get(i) for i in range(len(kinds))]


def _longest(cells: list[list[str]], index: int, *, whole: bool) -> int:
    """The longest cell (`whole`) or word of column `index` (at least 1)."""
    values = [row[index] for row in cells if index < len(row)]
    parts = values if whole else [word for value in values for word in value.split()]
    return max((len(part) for part in parts), default=1)
