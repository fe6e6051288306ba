"""The CLI's error boundary and `--debug`: an unmapped foreign error is one line on stderr and exit 4
(3 once an adapter maps it), never a traceback unless asked for; `--debug` and ROTATION_LOG_LEVEL turn
on every library's logger as JSON lines on stderr; a failed app's reason is always in the human table."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import typer

from emulators.sandbox import RunningWorld
from emulators.sandbox.cycle import service_env
from rotation.cli.output import Exit, guarded
from rotation.errors import ConfigError
from rotation.hosting import telemetry
from rotation.hosting.config import Settings

INTERNAL = re.compile(r"^internal error: [A-Za-z_.]+: .* \(run with --debug for the traceback\)$")


def rotation(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "rotation", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=300,
        check=False,
        env=env,
    )


class _Garbage(BaseHTTPRequestHandler):
    """Answers every request with 200 and an HTML page: what a captive portal or a misrouted proxy does."""

    def _answer(self) -> None:
        body = b"<html><body>Please sign in to the network</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _answer  # noqa: N815 -- BaseHTTPRequestHandler's names

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


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_a_non_json_answer_is_one_line_and_exit_4(world: RunningWorld, tmp_path: Path, garbage_url: str) -> None:
    """iottly's ping answered by an HTML page (HTTP 200): a foreign error no adapter mapped."""
    env = {**service_env(world, tmp_path, timedelta(0)), "SANDBOX_IOTTLY_URL": garbage_url}
    done = rotation(["import", "--app", "greenhouse", "--slot", "ingest"], env, stdin="some-key\n")
    line = assert_one_error_line(done)
    assert done.returncode in (Exit.FAILED, Exit.INTERNAL), done.stderr
    if done.returncode == Exit.INTERNAL:
        assert INTERNAL.match(line), line
    assert "some-key" not in done.stdout + done.stderr
    assert world.world.vault.versions("iottly-greenhouse-ingest")[-1].tags.get("stage") == "current"  # untouched


@pytest.mark.parametrize("identity", ["closed", "garbage"])
def test_a_credential_failure_is_one_line(world: RunningWorld, tmp_path: Path, garbage_url: str, identity: str) -> None:
    """The managed-identity endpoint refuses the connection or answers HTML: revoke-now says so in one line."""
    endpoint = f"http://127.0.0.1:{closed_port()}/msi/token" if identity == "closed" else f"{garbage_url}/msi/token"
    env = {**service_env(world, tmp_path, timedelta(0)), "IDENTITY_ENDPOINT": endpoint}
    done = rotation(
        ["revoke-now", "--app", "contoso-fleet", "--token-id", "ops-admin", "--reason", "test", "--yes"], env
    )
    line = assert_one_error_line(done)
    assert done.returncode in (Exit.FAILED, Exit.INTERNAL), done.stderr
    assert line.startswith(("internal error: ", "error: ")), line
    assert "ops-admin" in world.world.iotcentral.app("contoso-fleet").tokens  # nothing deleted


def test_rotate_shows_why_an_app_failed_before_planning(world: RunningWorld, tmp_path: Path, garbage_url: str) -> None:
    """Before: exit 3, an empty table and nothing on stderr; the reason was only in --json."""
    env = {**service_env(world, tmp_path, timedelta(0)), "IDENTITY_ENDPOINT": f"{garbage_url}/msi/token"}
    done = rotation(["rotate", "--app", "contoso-fleet"], env)
    assert done.returncode == Exit.FAILED, done.stderr
    rows = [line for line in done.stdout.splitlines() if "contoso-fleet" in line]
    assert rows, done.stdout
    assert "Blocked" in done.stdout
    assert "app failed" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_guarded_turns_an_unmapped_exception_into_exit_4(capsys: pytest.CaptureFixture[str]) -> None:
    @guarded
    def command() -> None:
        raise KeyError("no such thing")

    with pytest.raises(typer.Exit) as raised:
        command()
    assert raised.value.exit_code == Exit.INTERNAL
    assert int(Exit.INTERNAL) == 4
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "internal error: KeyError: 'no such thing' (run with --debug for the traceback)"
    ]


def test_guarded_leaves_typer_exits_alone() -> None:
    @guarded
    def command() -> None:
        raise typer.Exit(Exit.FINDINGS)

    with pytest.raises(typer.Exit) as raised:
        command()
    assert raised.value.exit_code == Exit.FINDINGS


def _json_lines(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def test_debug_prints_the_traceback_and_every_library_log(
    world: RunningWorld, tmp_path: Path, garbage_url: str
) -> None:
    env = {**service_env(world, tmp_path, timedelta(0)), "SANDBOX_IOTTLY_URL": garbage_url}
    done = rotation(["--debug", "import", "--app", "greenhouse", "--slot", "ingest"], env, stdin="some-key\n")
    assert done.returncode in (Exit.FAILED, Exit.INTERNAL), done.stderr
    assert "Traceback (most recent call last)" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(("internal error: ", "error: "))
    assert "run with --debug" not in done.stderr
    loggers = {str(line["logger"]) for line in _json_lines(done.stderr)}
    assert "httpx" in loggers
    assert any(name.startswith("httpcore") for name in loggers), loggers
    assert "some-key" not in done.stdout + done.stderr


@pytest.mark.parametrize("how", ["--debug", "ROTATION_LOG_LEVEL"])
def test_debug_turns_on_azure_core_identity_httpx_httpcore_urllib3(
    world: RunningWorld, tmp_path: Path, how: str
) -> None:
    env = service_env(world, tmp_path, timedelta(0))
    args = ["plan", "--app", "contoso-fleet"]
    if how == "--debug":
        args = ["--debug", *args]
    else:
        env["ROTATION_LOG_LEVEL"] = "DEBUG"
    done = rotation(args, env)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = _json_lines(done.stderr)
    assert len(lines) == len(done.stderr.strip().splitlines())  # every stderr line is a JSON log line
    loggers = {str(line["logger"]) for line in lines}
    for prefix in ("azure.core", "azure.identity", "httpx", "httpcore", "urllib3"):
        assert any(name.startswith(prefix) for name in loggers), (prefix, sorted(loggers))
    assert {line["level"] for line in lines} >= {"debug", "info"}
    assert "plan (nothing changed)" in done.stdout


def test_without_debug_the_cli_logs_nothing(world: RunningWorld, tmp_path: Path) -> None:
    done = rotation(["plan", "--app", "contoso-fleet"], service_env(world, tmp_path, timedelta(0)))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


def test_an_invalid_log_level_is_a_user_error(tmp_path: Path) -> None:
    env = {**os.environ, "ROTATION_LOG_LEVEL": "chatty"}
    done = rotation(["plan"], env)
    assert done.returncode == Exit.USER_ERROR
    assert done.stderr.strip() == "ROTATION_LOG_LEVEL: got 'chatty', expected one of DEBUG, INFO, WARNING"


def test_the_log_level_setting() -> None:
    assert Settings.from_env({}).log_level == "INFO"
    assert Settings.from_env({"ROTATION_LOG_LEVEL": "debug"}).log_level == "DEBUG"
    assert Settings.from_env({"ROTATION_LOG_LEVEL": "WARNING"}).log_level == "WARNING"
    with pytest.raises(ConfigError, match="ROTATION_LOG_LEVEL: got 'TRACE', expected one of DEBUG, INFO, WARNING"):
        Settings.from_env({"ROTATION_LOG_LEVEL": "TRACE"})


def test_the_log_level_in_the_function_app_never_silences_the_alerts_lines() -> None:
    """Without a stream (the Functions host's handlers): DEBUG opens every logger; WARNING leaves ours to
    the host, so the INFO `audit_finding` lines the high-severity alert reads keep flowing."""
    try:
        telemetry.configure(env={"ROTATION_LOG_LEVEL": "DEBUG"}, azure_monitor=False)
        for name in ("rotation", "azure.core", "azure.identity", "msal", "httpx", "httpcore", "urllib3"):
            assert logging.getLogger(name).level == logging.DEBUG, name
        telemetry.configure(env={"ROTATION_LOG_LEVEL": "WARNING"}, azure_monitor=False)
        assert logging.getLogger("rotation").level == logging.NOTSET
        assert logging.getLogger("rotation.audit").isEnabledFor(logging.INFO) == logging.getLogger().isEnabledFor(
            logging.INFO
        )
        assert logging.getLogger("httpx").level == logging.WARNING
    finally:
        telemetry.configure(env={})
