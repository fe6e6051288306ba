"""`ROTATION_REPORTS_KEEP`: how many local run folders the audit keeps (`50`: runs, `30d`: days).

Parsing only (the settings read it at start-up without loading the report code); pruning is
`rotation.audit.report.baseline.prune`, which never removes the run just written nor a run some app's
next diff starts from. Blob Storage keeps runs under the container's immutability policy instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rotation.errors import ConfigError

SETTING = "ROTATION_REPORTS_KEEP"
_FORM = re.compile(r"^(?P<n>[1-9][0-9]{0,5})(?P<d>d?)$")


@dataclass(frozen=True)
class Retention:
    runs: int | None = None  # keep the newest N run folders
    days: int | None = None  # keep run folders younger than N days


def parse_keep(raw: str) -> Retention | None:
    """'' keeps everything (the default); a bad value is a one-line config error."""
    text = raw.strip()
    if not text:
        return None
    match = _FORM.match(text)
    if match is None:
        raise ConfigError(f"{SETTING}: got {raw!r}, expected a number of runs (e.g. 50) or of days (e.g. 30d)")
    count = int(match["n"])
    return Retention(days=count) if match["d"] else Retention(runs=count)
