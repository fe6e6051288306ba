"""Runs the `rotation` CLI in real child processes, fast: a fork server.

`python -m rotation` spends most of a short run importing (typer, rich, azure-core, azure-identity, the
Key Vault SDK, httpx, pydantic). The fault matrix runs the CLI about a thousand times, so this server
imports all of that once and forks one child per run. The child is a separate OS process that runs
exactly what `python -m rotation ARGS` runs (`runpy` on the `rotation` package as `__main__`), with its
own environment, stdin from /dev/null and stdout/stderr into files; it exits with the CLI's exit code,
or is killed by a signal (the matrix SIGKILLs it at the k-th request to crash it). Nothing but the
imports is shared: no client, credential, token cache or Key Vault challenge cache exists before a child
starts, as in a fresh process.

Protocol, one JSON object per line: the server says {"ready": true}; then for each request
{"argv", "env", "stdout", "stderr"} it answers {"pid"} at once and {"pid", "returncode"} once the child
ended (a negative return code is the signal that killed it, as `subprocess` reports it).
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import sys
import traceback
from typing import Any

PRELOAD = (
    "rotation.cli.app",
    "rotation.engine.jobs",
    "rotation.hosting.runtime",
    "rotation.adapters.keyvault",
    "rotation.adapters.iotcentral",
    "rotation.policy.specs",
    "azure.identity",
    "azure.keyvault.secrets",
    # imported lazily on a run's first request: once here rather than in every child
    "_strptime",
    "httpcore",
    "h11",
    "anyio",
    "azure.core.rest._requests_basic",
    "azure.identity._credentials.app_service",
    "azure.identity._internal.msal_managed_identity_client",
    "pydantic.type_adapter",
    "ruamel.yaml.mergevalue",
    "typer._adapters",
    "typer._click.decorators",
)


def _exit_code(code: object) -> int:
    """What the interpreter makes of `SystemExit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _child(request: dict[str, Any]) -> None:
    """Becomes `python -m rotation *argv` and never returns."""
    code = 1
    try:
        stdin = os.open(os.devnull, os.O_RDONLY)
        stdout = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        stderr = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        for fd, target in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["rotation", *request["argv"]]
        runpy.run_module("rotation", run_name="__main__", alter_sys=True)
        code = 0
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 -- what the interpreter does with an uncaught exception
        traceback.print_exc()
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                code = code or 1
        os._exit(code)


def _say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    for module in PRELOAD:
        with contextlib.suppress(ImportError):  # a library that moved its internals: only slower
            __import__(module)
    _say({"ready": True})
    for line in sys.stdin:
        request = json.loads(line)
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(request)
        _say({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _say({"pid": pid, "returncode": -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)})


if __name__ == "__main__":
    main()
