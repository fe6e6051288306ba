"""A slot declares its consumers and how often each re-reads the secret (docs/consumer.md): `rotation policies
check` warns, one line on stderr naming the file:line, the slot and the consumer, when the grace does not exceed
a refresh interval plus the margin; the policy stays valid (exit 0). No consumer declared, or a long enough
grace: no warning."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_policy_files import check
from tests.unit.test_policyfile_reading import GOOD

CONSUMERS = """\
        grace: {grace}
        consumers:
          - {{name: store-portal, refresh: PT24H}}
          - {{name: fleet-jobs, refresh: PT6H}}
"""


def _policy(tmp_path: Path, grace: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(GOOD + CONSUMERS.format(grace=grace), encoding="utf-8")
    return path


def test_a_grace_shorter_than_a_consumers_refresh_is_a_warning(tmp_path: Path) -> None:
    path = _policy(tmp_path, "P1D")
    done = check(path)
    assert done.returncode == 0, done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    expected = (
        f"warning: {path}:8 contoso-fleet/reader grace: got grace P1D, expected more than P1DT1H (consumer "
        "store-portal re-reads the secret every P1D, plus a margin of PT1H): it may be left holding a revoked token"
    )
    assert warnings == [expected]


def test_a_long_enough_grace_or_no_consumer_says_nothing(tmp_path: Path) -> None:
    assert "warning" not in check(_policy(tmp_path, "P2D")).stderr
    plain = tmp_path / "plain.yaml"
    plain.write_text(GOOD, encoding="utf-8")
    done = check(plain)
    assert done.returncode == 0
    assert "warning" not in done.stderr
