"""The consumer's 401 path and its origin rule, against the sandbox emulators: a token deleted by hand is
re-read from Key Vault once and the request retried once; a vault copy the app refuses is not retried
with the same value; a request to another origin never gets the token."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from werkzeug.wrappers import Request, Response

from emulators.sandbox import RunningWorld
from rotation.engine.jobs import run_job
from rotation.errors import ForeignOriginError
from tests.integration.consumer_support import APP, DEVICES, SECRET, SLOT, consumer, service_runtime


@dataclass
class TokenCalls:
    """Requests to the app made with an API token (the consumer's; the service uses its bearer)."""

    statuses: list[int] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def observe(self, emulator: str, route: str, request: Request, response: Response) -> None:
        if request.headers.get("Authorization", "").startswith("SharedAccessSignature "):
            with self._lock:
                self.statuses.append(response.status_code)


def _token_calls(world: RunningWorld) -> TokenCalls:
    calls = TokenCalls()
    world.world.iotcentral.observers.append(calls.observe)
    return calls


def test_a_token_deleted_early_is_re_read_once_and_the_request_retried_once(world: RunningWorld) -> None:
    with consumer(world) as client:
        assert client.http.get(DEVICES).status_code == 200
        old = client.cache.version
        runtime = service_runtime(world, timedelta(0))
        rotated = run_job(runtime, "rotate", forced=[(APP, SLOT)])
        assert any(o.slot == SLOT and o.action == "Mint" and o.status == "done" for o in rotated.outcomes())
        runtime.close()
        # An incident: the superseded token is deleted now, long before its grace (what revoke-now does).
        old_token = next(v.tags["token-id"] for v in world.world.vault.versions(SECRET) if v.version == old)
        world.world.iotcentral.app(APP).delete_token(old_token)
        calls = _token_calls(world)

        response = client.http.get(DEVICES)

        assert response.status_code == 200
        assert calls.statuses == [401, 200]
        assert (client.cache.reads, client.vault_reads.count, client.cache.refused, client.auth.retries) == (2, 2, 1, 1)
        assert client.cache.version == world.world.vault.versions(SECRET)[-1].version != old


def test_a_refused_value_that_the_vault_still_holds_is_not_retried_nor_re_read_at_once(world: RunningWorld) -> None:
    # contoso-fleet/maintenance: the vault holds a corrupted copy (the seed's IOTC-012 case).
    with consumer(world, secret="iotc-contoso-fleet-maintenance") as client:
        calls = _token_calls(world)

        response = client.http.get(DEVICES)

        assert response.status_code == 401
        assert calls.statuses == [401]
        assert (client.cache.reads, client.vault_reads.count, client.cache.refused, client.auth.retries) == (2, 2, 1, 0)

        # The next 401s within 30 s cost no Key Vault read; after that the vault is asked again.
        assert client.http.get(DEVICES).status_code == 401
        assert (client.vault_reads.count, client.cache.refused) == (2, 2)
        world.world.clock.advance(timedelta(seconds=30))
        assert client.http.get(DEVICES).status_code == 401
        assert (client.vault_reads.count, client.cache.refused, client.auth.retries) == (3, 3, 0)


def test_the_token_goes_only_to_the_app_origin(world: RunningWorld) -> None:
    with consumer(world) as client:
        other = world.vault_url + "/api/devices"  # a live server: it would have received the token
        with pytest.raises(ForeignOriginError, match="refused, not sent"):
            client.http.get(other)
        assert client.cache.reads == 0
        assert client.vault_reads.count == 0
