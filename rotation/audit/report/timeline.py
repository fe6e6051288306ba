"""Per-app timeline of token lifetimes for the HTML report (pure geometry; the template draws the SVG).

Each slot gets rows of bars, one bar per token version: active (green) until it was superseded, then its
grace period (amber) until revocation (grey cross) or expiry (red dot). Overlapping bars go to separate
rows so the reviewer sees current and previous side by side; a red band marks times in the past when a
slot had no working token (a gap). Unmanaged and orphaned tokens get rows of their own. Times before the
window's start or after its end are clipped and drawn with an open edge.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rotation.audit.findings import when
from rotation.domain.lifecycle import created_from_id
from rotation.domain.model import AppSpec, AppState, AppToken, SecretVersion
from rotation.domain.protocol import STAGE_REVOKED, TAG_REVOKED_AT

BEFORE, AFTER = timedelta(days=42), timedelta(days=35)
WIDTH, LABEL_W, RIGHT_PAD = 980, 190, 16
ROW_H, SLOT_GAP, TOP = 20, 10, 26


@dataclass(frozen=True)
class Bar:
    row: int
    x0: float
    x1: float
    kind: str  # active | grace | future | expired-listed | unmanaged | orphan
    title: str
    open_start: bool = False
    open_end: bool = False


@dataclass(frozen=True)
class Marker:
    row: int
    x: float
    kind: str  # revoked | expired
    title: str


@dataclass
class Timeline:
    start: datetime
    end: datetime
    now: datetime
    labels: list[tuple[int, str, str]] = field(default_factory=list)  # (row, text, css class)
    bars: list[Bar] = field(default_factory=list)
    markers: list[Marker] = field(default_factory=list)
    gaps: list[tuple[int, float, float, str]] = field(default_factory=list)
    rows: int = 0
    separators: list[int] = field(default_factory=list)  # rows that start a new group

    def x(self, moment: datetime) -> float:
        span = (self.end - self.start).total_seconds()
        frac = (min(max(moment, self.start), self.end) - self.start).total_seconds() / span
        return round(LABEL_W + frac * (WIDTH - LABEL_W - RIGHT_PAD), 1)

    def y(self, row: int) -> float:
        return TOP + row * ROW_H + sum(SLOT_GAP for s in self.separators if s <= row)

    @property
    def height(self) -> float:
        return self.y(self.rows) + 24

    @property
    def now_x(self) -> float:
        return self.x(self.now)

    @property
    def ticks(self) -> list[tuple[float, str]]:
        first = (self.start + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        days = range(0, (self.end - first).days + 1, 7)
        return [(self.x(first + timedelta(days=d)), f"{first + timedelta(days=d):%b %d}") for d in days]


@dataclass(frozen=True)
class _Span:
    start: datetime
    superseded: datetime | None
    end: datetime
    revoked: datetime | None
    expiry: datetime | None
    listed: bool
    label: str


def _tag_time(version: SecretVersion, tag: str) -> datetime | None:
    try:
        return datetime.fromisoformat(version.tags[tag]) if version.tags.get(tag) else None
    except ValueError:
        return None


def _span(version: SecretVersion, token: AppToken | None, now: datetime) -> _Span:
    start = (created_from_id(version.token_id) if version.token_id else None) or version.created_on
    expiry = token.expiry if token and token.expiry else version.expires_on
    revoked = _tag_time(version, TAG_REVOKED_AT) if version.stage == STAGE_REVOKED or not version.enabled else None
    end = revoked or expiry or now
    return _Span(
        start,
        version.superseded_at,
        end,
        revoked,
        expiry,
        token is not None,
        f"{version.token_id or 'unknown token'} · version {version.version[:8]} · {version.stage or '-'}",
    )


def _rows(spans: Sequence[_Span]) -> list[int]:
    """Greedy interval colouring: a span goes to the first row whose last span ended before it starts."""
    ends: list[datetime] = []
    rows = []
    for span in spans:
        row = next((i for i, end in enumerate(ends) if end <= span.start), len(ends))
        if row == len(ends):
            ends.append(span.end)
        else:
            ends[row] = span.end
        rows.append(row)
    return rows


class _Builder:
    def __init__(self, timeline: Timeline) -> None:
        self.t = timeline

    def bar(self, row: int, start: datetime, end: datetime, kind: str, title: str) -> None:
        if end <= self.t.start or start >= self.t.end or end <= start:
            return
        self.t.bars.append(
            Bar(
                row,
                self.t.x(start),
                self.t.x(end),
                kind,
                title,
                open_start=start < self.t.start,
                open_end=end > self.t.end,
            )
        )

    def span(self, row: int, span: _Span) -> None:
        now = self.t.now
        grace_from = span.superseded if span.superseded and span.superseded < span.end else None
        active_end = min(grace_from or span.end, span.end)
        self.bar(row, span.start, min(active_end, now), "active", f"{span.label}: in use from {when(span.start)}")
        if grace_from:
            self.bar(
                row,
                grace_from,
                min(span.end, now),
                "grace",
                f"{span.label}: superseded {when(grace_from)}, grace period (still valid)",
            )
        if span.end > now and span.revoked is None:
            self.bar(row, max(span.start, now), span.end, "future", f"{span.label}: valid until {when(span.end)}")
        if span.revoked:
            self.t.markers.append(
                Marker(row, self.t.x(span.revoked), "revoked", f"{span.label}: revoked {when(span.revoked)}")
            )
        elif span.expiry and span.expiry <= now:
            self.t.markers.append(
                Marker(row, self.t.x(span.expiry), "expired", f"{span.label}: expired {when(span.expiry)}")
            )
            if span.listed:
                self.bar(row, span.expiry, now, "expired-listed", f"{span.label}: expired but still listed")

    def gaps(self, first_row: int, spans: Sequence[_Span]) -> None:
        """Past times, after the slot's first token, when no token of the slot was valid."""
        covered = sorted((s.start, min(s.revoked or s.end, s.expiry or s.end)) for s in spans)
        if not covered:
            return
        cursor = covered[0][0]
        for start, end in [*covered, (self.t.now, self.t.now)]:
            if start > cursor and cursor < self.t.now:
                gap_end = min(start, self.t.now)
                if gap_end > self.t.start:
                    self.t.gaps.append(
                        (
                            first_row,
                            self.t.x(cursor),
                            self.t.x(gap_end),
                            f"no valid token from {when(cursor)} to {when(gap_end)}",
                        )
                    )
            cursor = max(cursor, end)


def _lone_tokens(tokens: Iterable[AppToken], referenced: set[str]) -> tuple[list[AppToken], list[AppToken]]:
    unmanaged = sorted((t for t in tokens if not t.managed), key=lambda t: t.id)
    orphans = sorted((t for t in tokens if t.managed and t.id not in referenced), key=lambda t: t.id)
    return unmanaged, orphans


def app_timeline(spec: AppSpec, state: AppState, now: datetime) -> Timeline:
    timeline = Timeline(now - BEFORE, now + AFTER, now)
    draw = _Builder(timeline)
    row = 0
    referenced: set[str] = set()
    for slot_spec in spec.slots:
        slot = state.slots.get(slot_spec.slot)
        versions = sorted((v for v in (slot.versions if slot else ()) if v.token_id), key=lambda v: v.created_on)
        referenced |= slot.referenced_token_ids() if slot else set()
        spans = [_span(v, state.token(v.token_id or ""), now) for v in versions]
        if row:
            timeline.separators.append(row)
        timeline.labels.append((row, slot_spec.slot, "slot"))
        if not spans:
            timeline.gaps.append((row, timeline.x(timeline.start), timeline.now_x, "no token at all"))
            row += 1
            continue
        rows = _rows(spans)
        for span, offset in zip(spans, rows, strict=True):
            draw.span(row + offset, span)
        draw.gaps(row, spans)
        row += max(rows) + 1
    unmanaged, orphans = _lone_tokens(state.tokens or (), referenced)
    for group, kind, tokens in (("unmanaged", "unmanaged", unmanaged), ("orphaned", "orphan", orphans)):
        if tokens and row:
            timeline.separators.append(row)
        for token in tokens:
            timeline.labels.append((row, f"{group}: {token.id}", kind))
            start = created_from_id(token.id) or timeline.start - timedelta(days=1)  # creation not listed
            end = token.expiry or timeline.end + timedelta(days=1)
            draw.bar(row, start, end, kind, f"{token.id}: {group}, expires {when(token.expiry)}")
            if token.expiry and token.expiry <= now:
                timeline.markers.append(Marker(row, timeline.x(token.expiry), "expired", f"{token.id}: expired"))
            row += 1
    timeline.rows = row
    return timeline
