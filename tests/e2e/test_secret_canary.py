"""The secret canary: a full sandbox cycle and every failure path we can provoke, all at DEBUG, and not
one credential in anything the service printed, logged or wrote.

The emulators know every value they handed out: IoT Central's API tokens (the create responses), the
managed-identity endpoint's JWTs, the iottly keys made in its "web UI", the vault's versions, the
bootstrap token and the identity header. They are collected in-process (emulator observers and state)
and searched for, whole and by their signatures, in every stdout and stderr of the CLI, every report
file, every log record and exception text of the in-process run; so are JWT-shaped strings and the
`SharedAccessSignature` scheme of an API token.
"""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from werkzeug.wrappers import Request, Response

from emulators.core.faults import Fault
from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from rotation.engine.executor import VerifyPolicy
from rotation.engine.jobs import run_job
from rotation.hosting import telemetry
from rotation.hosting.config import Settings
from rotation.hosting.runtime import Runtime
from tests.integration.sample_specs import sample_specs

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.")
ADVANCE = timedelta(hours=25)


@dataclass
class Canary:
    """Every secret value seen on the emulators' side, and every text the service produced."""

    values: set[str] = field(default_factory=set)
    texts: dict[str, str] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, world: RunningWorld) -> None:
        for emulator in (world.world.iotcentral, world.world.identity, world.world.vault):
            emulator.observers.append(self._observe)
        self.values.add(world.world.identity.header_secret)
        if world.bootstrap_token_file is not None:
            self.values.add(world.bootstrap_token_file.read_text(encoding="utf-8").strip())

    def _observe(self, emulator: str, route: str, request: Request, response: Response) -> None:
        """Token values as they left (IoT Central, identity) or reached (Key Vault) an emulator."""
        fields = {
            "ApiTokens_Create": ("response", "token"),
            "msi.token": ("response", "access_token"),
            "SetSecret": ("request", "value"),
        }.get(route)
        if fields is None:
            return
        raw = response.get_data(as_text=True) if fields[0] == "response" else request.get_data(as_text=True)
        try:
            value = json.loads(raw).get(fields[1])
        except (ValueError, AttributeError):
            return
        if isinstance(value, str) and value:
            with self._lock:
                self.values.add(value)

    def cli(self, name: str, args: list[str], env: dict[str, str], stdin: str = "") -> int:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "rotation", "--debug", *args],
            capture_output=True,
            text=True,
            input=stdin,
            timeout=300,
            check=False,
            env=env,
        )
        self.texts[f"{name} stdout"] = done.stdout
        self.texts[f"{name} stderr"] = done.stderr
        self.exit_codes[name] = done.returncode
        return done.returncode

    def findings(self, world: RunningWorld, files: list[Path]) -> list[str]:
        values = set(self.values)
        values |= {v.value for name in world.world.vault.secret_names() for v in world.world.vault.versions(name)}
        texts = dict(self.texts)
        texts.update({str(path): path.read_text(encoding="utf-8", errors="replace") for path in files})
        found = []
        for where, text in texts.items():
            found += [f"{where}: a value or signature ({part[:6]}…)" for part in _parts(values) if part in text]
            found += [f"{where}: a JWT ({match[:10]}…)" for match in JWT.findall(text)]
            found += [f"{where}: an API token scheme"] if "SharedAccessSignature" in text else []
        return found


def _parts(values: set[str]) -> set[str]:
    """Each value, the signature of each API token (raw and percent-decoded) and of each JWT."""
    parts = set(values)
    for value in values:
        if "sig=" in value:
            signature = value.split("sig=", 1)[1].split("&", 1)[0]
            parts |= {signature, unquote(signature)}
        if JWT.match(value):
            parts.add(value.rsplit(".", 1)[1])
    return {part for part in parts if len(part) >= 12}


class _Garbage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>captive portal</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 -- stdlib signature
        return


@pytest.fixture
def garbage_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _full_cycle(canary: Canary, world: RunningWorld, reports: Path) -> None:
    env = service_env(world, reports, timedelta(0))
    token = world.bootstrap_token_file.read_text(encoding="utf-8") if world.bootstrap_token_file else ""
    assert canary.cli("bootstrap", ["bootstrap", "--app", "northwind-labs"], env, stdin=token) == 0
    assert canary.cli("rotate", ["rotate"], env) == 0
    assert canary.cli("revoke", ["revoke"], env) == 0
    assert canary.cli("audit", ["audit"], env) in (0, 1)  # the seeded violations are findings
    key = world.world.iottly.add_key("greenhouse", "rotation: ingest (canary)")
    canary.values.add(key.value)
    assert canary.cli("import", ["import", "--app", "greenhouse", "--slot", "ingest"], env, stdin=key.value) == 0
    world.world.clock.advance(ADVANCE)
    assert canary.cli("run", ["run"], service_env(world, reports, ADVANCE)) in (0, 1)
    assert "Revoke" in canary.texts["run stdout"]  # past the grace period: superseded tokens revoked


def _failure_paths(canary: Canary, world: RunningWorld, reports: Path, garbage_url: str, policies: Path) -> None:
    env = service_env(world, reports, ADVANCE)
    iotc, vault = world.world.iotcentral.faults, world.world.vault.faults
    provoked = [
        ("401", iotc, Fault("error", route="ApiTokens_List", status=401), ["rotate", "--app", "contoso-fleet"]),
        ("403", vault, Fault("error", route="GetSecretVersions", status=403), ["revoke", "--app", "fabrikam-stores"]),
        (
            "500",
            iotc,
            Fault("error", route="ApiTokens_Create", status=500),
            ["rotate", "--app", "northwind-labs", "--slot", "telemetry-reader", "--now", "--reason", "canary"],
        ),
        (
            "drop",
            iotc,
            Fault("drop", route="ApiTokens_Remove"),
            ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--reason", "canary", "--yes"],
        ),
    ]
    for name, faults, fault, args in provoked:
        faults.add(fault)
        assert canary.cli(name, args, env) == 3, canary.texts[f"{name} stderr"][-2000:]
        faults.clear()
    vault.add(Fault("drop", route="GetSecretVersions", times=2))  # retried by azure-core, then fine
    assert canary.cli("drop-retried", ["plan", "--app", "contoso-fleet"], env) == 0
    bad = {**env, "ROTATION_POLICIES": str(policies)}
    assert canary.cli("bad-policy-rotate", ["rotate"], bad) == 2
    assert canary.cli("bad-policy-audit", ["audit"], bad) == 2
    wrong_header = {**env, "IDENTITY_HEADER": "not-the-header"}
    assert canary.cli("identity-401", ["rotate", "--app", "contoso-fleet"], wrong_header) == 3
    garbage_identity = {**env, "IDENTITY_ENDPOINT": f"{garbage_url}/msi/token"}
    assert canary.cli(
        "foreign-identity",
        ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--reason", "canary", "--yes"],
        garbage_identity,
    ) in (3, 4)
    no_offset = service_env(world, reports, timedelta(0))  # `import` builds a runtime without apps: no offset
    assert canary.cli(
        "foreign-iottly",
        ["import", "--app", "greenhouse", "--slot", "ingest"],
        {**no_offset, "SANDBOX_IOTTLY_URL": garbage_url},
        stdin="a-key-nobody-checks\n",
    ) in (3, 4)


def _verification_failure_in_process(
    canary: Canary, world: RunningWorld, reports: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A freshly minted token that never verifies (401 on its check): every log record at DEBUG and the
    outcome's exception text, in this process."""
    settings = Settings.from_env({"ROTATION_CA_BUNDLE": str(world.ca.pem_path), "ROTATION_REPORTS_DIR": str(reports)})
    runtime = Runtime(settings, sample_specs(world))
    world.world.iotcentral.faults.add(Fault("error", route="Devices_List", status=401))
    telemetry.configure(env={}, level=logging.DEBUG, azure_monitor=False)
    try:
        with caplog.at_level(logging.DEBUG):
            result = run_job(
                runtime,
                "rotate",
                apps=[runtime.apps[0]],
                forced=[("contoso-fleet", "dashboard-reader")],
                verify_policy=VerifyPolicy(attempts=2, sleep=lambda _: None),
            )
    finally:
        world.world.iotcentral.faults.clear()
        telemetry.configure(env={})
        runtime.close()
    mint = next(o for o in result.outcomes() if o.action == "Mint")
    assert mint.status == "failed"
    assert "failed verification" in mint.detail
    canary.texts["verification records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records
    )
    canary.texts["verification result"] = repr(result) + " ".join(f"{o.reason} {o.detail}" for o in result.outcomes())
    assert any(r.name.startswith("httpx") for r in caplog.records)


def test_no_credential_in_any_output_log_report_or_exception(
    world: RunningWorld, tmp_path: Path, garbage_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    canary = Canary()
    canary.watch(world)
    reports = tmp_path / "reports"
    policies = tmp_path / "bad.yaml"
    policies.write_text("version: 1\napps:\n  - name: Contoso\n    provider: iotcentral\n", encoding="utf-8")

    _full_cycle(canary, world, reports)
    _failure_paths(canary, world, reports, garbage_url, policies)
    _verification_failure_in_process(canary, world, reports, caplog)

    minted = {v for v in canary.values if v.startswith("SharedAccessSignature")}
    jwts = {v for v in canary.values if JWT.match(v)}
    assert len(minted) >= 6  # the cycle minted tokens, the identity issued JWTs: the canary has prey
    assert len(jwts) >= 2
    debug = canary.texts["rotate stderr"]
    for logger in ("azure.core", "azure.identity", "httpx", "httpcore", "urllib3"):
        assert f'"logger": "{logger}' in debug, logger  # every library did log at DEBUG
    files = [path for path in reports.rglob("*") if path.is_file()]
    assert any(path.name == "audit.html" for path in files)
    assert canary.findings(world, files) == []
