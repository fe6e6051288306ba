"""The HTML report works on a 375 px phone: a media query for narrow screens, no fixed width (CSS or
inline) wider than the viewport, tables that stack with a label per cell, the timeline in a scroll box."""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[2] / "rotation" / "audit" / "report" / "templates" / "audit.html.j2"
PHONE = 375


def _css() -> str:
    text = TEMPLATE.read_text(encoding="utf-8")
    return text[text.index("<style>") : text.index("</style>")]


def test_the_css_has_a_narrow_screen_media_query() -> None:
    queries = [int(w) for w in re.findall(r"@media \(max-width: (\d+)px\)", _css())]
    assert queries
    assert all(width >= PHONE for width in queries)


def test_no_fixed_width_is_wider_than_a_phone() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")  # the CSS and any inline style
    widths = [int(w) for w in re.findall(r"(?<![\w-])(?:min-)?width\s*:\s*(\d+)px", text)]
    assert widths
    assert [w for w in widths if w > PHONE] == []
    assert "repeat(7" not in _css()  # the severity cards wrap instead of squeezing seven to a row


def test_tables_stack_with_a_label_per_cell_and_the_timeline_scrolls() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    narrow = _css()[_css().index("@media") :]
    assert "display: block" in narrow
    assert "attr(data-label)" in narrow
    assert 'data-label="Remediation"' in text
    assert '<div class="timeline"><svg' in text
    assert "overflow-wrap: anywhere" in _css()  # long token ids and secret versions wrap
