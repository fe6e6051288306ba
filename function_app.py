"""The Azure Function app (Python v2 programming model): three timers and the fan-out queue trigger.

Each function only wires its trigger to `rotation.hosting.triggers`, imported inside the function: importing
this module loads `azure.functions` and nothing else, so indexing and cold start stay cheap and no SDK
client (azure-identity, Key Vault, Storage, httpx) exists before an invocation needs it.

Schedules are 6-field NCRONTAB expressions read from app settings (`%ROTATE_SCHEDULE%` ...); their
defaults are declared once in `rotation/hosting/schedules.py` (`python -m rotation.hosting.schedules` prints
them) and set by the Bicep template and local.settings.json.example. `use_monitor=True` keeps the schedule status in
the host storage so that a missed occurrence shows up as past due after a restart; `run_on_startup=False`
so that a deployment or scale-out never triggers an unplanned rotation.

Every call passes `functions_app=__file__`: that is how the hosting layer knows it runs in the Functions
host (no double log export) and where the app root is (a relative ROTATION_POLICIES is read from there,
or from AzureWebJobsScriptRoot, not from the worker's cwd).
"""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp()


@app.timer_trigger(arg_name="timer", schedule="%ROTATE_SCHEDULE%", run_on_startup=False, use_monitor=True)
def rotate(timer: func.TimerRequest) -> None:
    """Mint, stage, verify and promote due slots (or enqueue one message per app with ROTATION_FANOUT=queue)."""
    from rotation.hosting.triggers import on_timer  # noqa: PLC0415 -- nothing but azure.functions at import time

    on_timer("rotate", past_due=timer.past_due, functions_app=__file__)


@app.timer_trigger(arg_name="timer", schedule="%REVOKE_SCHEDULE%", run_on_startup=False, use_monitor=True)
def revoke(timer: func.TimerRequest) -> None:
    """Revoke superseded tokens past their grace, expired managed tokens and orphans."""
    from rotation.hosting.triggers import on_timer  # noqa: PLC0415

    on_timer("revoke", past_due=timer.past_due, functions_app=__file__)


@app.timer_trigger(arg_name="timer", schedule="%AUDIT_SCHEDULE%", run_on_startup=False, use_monitor=True)
def audit(timer: func.TimerRequest) -> None:
    """Audit every app's tokens and iottly keys against the policies; reports to Blob Storage."""
    from rotation.hosting.triggers import on_timer  # noqa: PLC0415

    on_timer("audit", past_due=timer.past_due, functions_app=__file__)


@app.queue_trigger(arg_name="message", queue_name="%ROTATION_QUEUE%", connection="AzureWebJobsStorage")
def rotate_app(message: func.QueueMessage) -> None:
    """One app of a fanned-out rotate or revoke (ROTATION_FANOUT=queue); retried by dequeue count, then poisoned."""
    from rotation.hosting.triggers import on_queue_message  # noqa: PLC0415

    on_queue_message(message.get_body().decode("utf-8"), message.dequeue_count or 1, functions_app=__file__)
