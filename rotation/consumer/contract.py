"""The consumer contract's pure check, kept in `rotation.domain.consumers` (the policy loader calls it too);
re-exported here for consumers of this library."""

from __future__ import annotations

from rotation.domain.consumers import APP_SERVICE_REFERENCE_REFRESH, DEFAULT_MARGIN, grace_warning, iso

__all__ = ["APP_SERVICE_REFERENCE_REFRESH", "DEFAULT_MARGIN", "grace_warning", "iso"]
