"""`rotation doctor` end to end (a subprocess) against the sandbox emulators: the sample world passes, with
the live figures; each fault a deployment really has (the identity not a user of the app, the vault role
missing, storage down) is named in one line and exits 3; bad input exits 2; no value is ever printed."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from pathlib import Path

from emulators.core import Fault
from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from tests.e2e.test_cli import rotation

ADMINISTRATOR = "ca310b8d-2f4a-44e0-a36e-957c202cd8d4"


def _bootstrapped(world: RunningWorld) -> None:
    """What `rotation bootstrap --app northwind-labs` does (the sample world leaves it to the sandbox)."""
    service = world.world.service
    world.world.iotcentral.app("northwind-labs").add_service_principal(
        "rotation-service", object_id=service.object_id, tenant_id=service.tenant_id, roles=[{"role": ADMINISTRATOR}]
    )


def _lines(stdout: str, status: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith(status)]


def _values(world: RunningWorld) -> set[str]:
    values = {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
    return {v for v in values if v} | (
        {world.bootstrap_token_file.read_text(encoding="utf-8").strip()} if world.bootstrap_token_file else set()
    )


def _no_value_in(world: RunningWorld, *texts: str) -> None:
    text = "".join(texts)
    assert not [v[:8] for v in _values(world) if v in text]
    assert "SharedAccessSignature" not in text


def test_the_sample_world_passes_with_live_figures(world: RunningWorld, tmp_path: Path) -> None:
    _bootstrapped(world)
    world.world.iotcentral.page_size = 2  # the token listings have a nextLink
    world.world.iotcentral.propagation_delay = timedelta(seconds=1)  # a new token is refused for a while
    out = tmp_path / "doctor.json"
    done = rotation(["doctor", "--live", "--out", str(out)], service_env(world, tmp_path / "reports", timedelta(0)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert not _lines(done.stdout, "FAIL")
    checks = [line.split()[1] for line in _lines(done.stdout, "ok")]
    assert {"policies", "schedules", "identity", "iotcentral", "vault", "reports", "lease", "live"} <= set(checks)
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["schema_version"] == 1
    assert document["exit_code"] == 0
    live = document["live"]
    assert set(live) == {"contoso-fleet", "fabrikam-stores", "northwind-labs"}
    for figures in live.values():
        assert figures["accepted"] is True
        assert figures["attempts"] >= 2  # refused while propagating, then accepted
        assert figures["expiry_honoured"] is True
        assert figures["next_link_keeps_api_version"] is True
        assert figures["cleanup"] == "token deleted"
    for app in world.world.iotcentral.apps.values():
        assert not [t for t in app.tokens if t.startswith("doctor-")]
    assert not [n for n in world.world.vault.secret_names() if n.startswith("doctor-")]
    assert not [n for n in [s.name for s in world.world.vault.store.deleted_secrets()] if n.startswith("doctor-")]
    _no_value_in(world, done.stdout, done.stderr, out.read_text(encoding="utf-8"))


def test_an_ignored_expiry_and_a_429_are_measured(world: RunningWorld, tmp_path: Path) -> None:
    world.world.iotcentral.expiry_policy = "ignore"
    world.world.iotcentral.faults.add(Fault("throttle", route="Users_List", times=1, retry_after=1))
    done = rotation(
        ["doctor", "--live", "--json", "--app", "contoso-fleet"], service_env(world, tmp_path / "reports", timedelta(0))
    )
    assert done.returncode == 0, done.stdout + done.stderr
    figures = json.loads(done.stdout)["live"]["contoso-fleet"]
    assert figures["expiry_honoured"] is False
    assert figures["next_link_keeps_api_version"] is None  # one page: no nextLink to judge
    assert (tmp_path / "reports" / "doctor.json").is_file()
    assert figures["throttled"] == 1
    assert figures["retry_after_on_429"] is True
    assert world.world.iotcentral.counters.get("ApiTokens_Remove") == 1


def test_an_identity_that_is_not_a_user_of_the_app_is_named(world: RunningWorld, tmp_path: Path) -> None:
    done = rotation(["doctor"], service_env(world, tmp_path / "reports", timedelta(0)))
    assert done.returncode == 3, done.stdout + done.stderr
    [failed] = _lines(done.stdout, "FAIL")
    assert failed.startswith("FAIL  iotcentral northwind-labs  the identity is not a user of app northwind-labs")
    assert "add it as Administrator" in failed
    assert "propagate" in failed
    assert "skip  live northwind-labs" not in done.stdout  # not --live
    _no_value_in(world, done.stdout, done.stderr)


def test_a_missing_vault_role_is_named(world: RunningWorld, tmp_path: Path) -> None:
    _bootstrapped(world)
    world.world.vault.revoke(world.world.service.object_id)
    world.world.vault.grant(world.world.service.object_id, "user")  # may read, not write
    done = rotation(["doctor", "--app", "contoso-fleet"], service_env(world, tmp_path / "reports", timedelta(0)))
    assert done.returncode == 3, done.stdout + done.stderr
    [failed] = _lines(done.stdout, "FAIL")
    assert failed.startswith(f"FAIL  vault {world.vault_url}  the identity may not set secrets")
    assert "Key Vault Secrets Officer" in failed
    assert not [n for n in world.world.vault.secret_names() if n.startswith("doctor-")]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_storage_down_is_named(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path / "reports", timedelta(0))
    key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    env["ROTATION_REPORTS_CONNECTION_STRING"] = (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={key};"
        f"BlobEndpoint=http://127.0.0.1:{_closed_port()}/devstoreaccount1;"
    )
    done = rotation(["doctor", "--app", "contoso-fleet"], env)
    assert done.returncode == 3, done.stdout + done.stderr
    [failed] = _lines(done.stdout, "FAIL")
    assert failed.startswith("FAIL  reports storage  ")
    assert key not in done.stdout + done.stderr


def test_invalid_policies_and_schedules_exit_2(world: RunningWorld, tmp_path: Path) -> None:
    env = service_env(world, tmp_path / "reports", timedelta(0))
    bad = rotation(["doctor"], {**env, "ROTATE_SCHEDULE": "every hour"})
    assert bad.returncode == 2, bad.stdout + bad.stderr
    assert _lines(bad.stdout, "FAIL")[0].startswith("FAIL  schedules  ROTATE_SCHEDULE: got 'every hour'")
    policy = tmp_path / "bad.yaml"
    policy.write_text("version: 1\napps: []\nsurprise: 1\n", encoding="utf-8")
    broken = rotation(["doctor"], {**env, "ROTATION_POLICIES": str(policy)})
    assert broken.returncode == 2, broken.stdout + broken.stderr
    assert _lines(broken.stdout, "FAIL")[0].startswith("FAIL  policies  ")
    assert world.world.vault.counters.get("SetSecret") == 0  # nothing remote was tried
