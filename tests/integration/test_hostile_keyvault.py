"""The Key Vault adapter (the real SecretClient) against hostile or broken answers: a nextLink or a redirect
to another origin (which must receive nothing: no request, so no bearer and no token value), HTML 200s,
huge and mistyped bodies, versions of another vault, a refused bearer, a failing credential, a dropped
PATCH, and what a PUT retried after being applied does."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential
from werkzeug.wrappers import Request, Response

from emulators.core import Fault, HttpError
from emulators.core.http import Route
from emulators.keyvault import KeyVaultEmulator
from emulators.sandbox.world import VAULT_NAME, SandboxWorld
from rotation.adapters.keyvault import KeyVaultSecrets, build_secret_client
from rotation.domain.model import SlotState
from rotation.domain.secret import Secret
from rotation.errors import AuthError, IncompleteListingError, RotationError, ServiceError
from tests.integration.hostile_support import Hostile, hostile_world, nothing_reached

SECRET = "iotc-contoso-fleet-dashboard-reader"
VERSION = "0123456789abcdef0123456789abcdef"
Call = Callable[[KeyVaultSecrets, str], Any]


@pytest.fixture
def hostile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hostile]:
    with hostile_world(tmp_path, monkeypatch) as world:
        yield world


def make_vault(hostile: Hostile, **options: Any) -> KeyVaultSecrets:
    return KeyVaultSecrets(
        build_secret_client(
            hostile.running.vault_url, ManagedIdentityCredential(), ca_bundle=hostile.ca_path, **options
        )
    )


@pytest.fixture
def vault(hostile: Hostile) -> KeyVaultSecrets:
    return make_vault(hostile)


def emulator(hostile: Hostile) -> KeyVaultEmulator:
    return hostile.running.world.vault


def item(hostile: Hostile, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"{hostile.running.vault_url}/secrets/{SECRET}/{VERSION}",
        "attributes": {"enabled": True, "created": 1700000000, "updated": 1700000000},
        "tags": {"stage": "current"},
        **fields,
    }


def respond(
    hostile: Hostile,
    route: str,
    body: Any,
    *,
    times: int | None = 1,
    status: int = 200,
    content_type: str = "application/json",
) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    emulator(hostile).faults.add(
        Fault("respond", route=route, times=times, status=status, content_type=content_type, body=text)
    )


def stored(hostile: Hostile, name: str = SECRET) -> list[tuple[str, dict[str, str], bool]]:
    return [(v.version, dict(v.tags), v.enabled) for v in emulator(hostile).versions(name)]


# -- same origin ------------------------------------------------------------------------------------------------
def test_a_next_link_to_another_origin_is_never_followed(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    next_link = f"{hostile.foreign_url}/secrets/{SECRET}/versions?api-version=7.6&$skiptoken=2"
    respond(hostile, "GetSecretVersions", {"value": [item(hostile)], "nextLink": next_link})
    with pytest.raises(IncompleteListingError, match="refused, not sent"):
        vault.list_versions(SECRET)
    assert nothing_reached(hostile.foreign)


@pytest.mark.parametrize("status", [307, 308])
@pytest.mark.parametrize(
    ("route", "call"),
    [
        (
            "SetSecret",
            lambda v, _: v.set_value(
                SECRET, Secret("new-token-value"), tags={"stage": "pending"}, expires_on=None, content_type="text/plain"
            ),
        ),
        ("UpdateSecret", lambda v, version: v.update(SECRET, version, tags={"stage": "revoked"}, enabled=False)),
        ("GetSecret", lambda v, version: v.get_value(SECRET, version)),
        ("GetSecretVersions", lambda v, _: v.list_versions(SECRET)),
    ],
)
def test_a_redirect_is_an_error_and_nothing_reaches_its_target(
    hostile: Hostile, vault: KeyVaultSecrets, route: str, call: Call, status: int
) -> None:
    before = stored(hostile)
    emulator(hostile).faults.add(
        Fault("redirect", route=route, status=status, location=f"{hostile.foreign_url}/secrets/{SECRET}")
    )
    with pytest.raises(ServiceError) as raised:
        call(vault, before[-1][0])
    assert nothing_reached(hostile.foreign)  # neither the bearer nor the new value went there
    assert stored(hostile) == before
    assert "redirect, not followed" in str(raised.value)


# -- answers that cannot be believed ---------------------------------------------------------------------------
MISTYPED: dict[str, Callable[[Hostile], Any]] = {
    "tag-number": lambda h: {"value": [item(h, tags={"stage": 1})]},
    "enabled-text": lambda h: {"value": [item(h, attributes={"enabled": "yes", "created": 1700000000})]},
    "created-text": lambda h: {"value": [item(h, attributes={"enabled": True, "created": "yesterday"})]},
    "created-missing": lambda h: {"value": [item(h, attributes={"enabled": True})]},
    "enabled-missing": lambda h: {"value": [item(h, attributes={"created": 1700000000})]},
    "id-number": lambda h: {"value": [item(h, id=5)]},
    "id-not-a-version": lambda h: {"value": [item(h, id=f"{h.running.vault_url}/secrets/{SECRET}")]},
    "other-secret": lambda h: {"value": [item(h, id=f"{h.running.vault_url}/secrets/other-secret/{VERSION}")]},
    "other-vault": lambda h: {"value": [item(h, id=f"{h.foreign_url}/secrets/{SECRET}/{VERSION}")]},
    "value-text": lambda h: {"value": "versions"},
    "value-missing": lambda h: {"versions": []},
    "next-link-number": lambda h: {"value": [], "nextLink": 3},
}


@pytest.mark.parametrize("case", sorted(MISTYPED))
def test_a_mistyped_or_foreign_version_makes_the_listing_incomplete(
    hostile: Hostile, vault: KeyVaultSecrets, case: str
) -> None:
    respond(hostile, "GetSecretVersions", MISTYPED[case](hostile))
    with pytest.raises(IncompleteListingError):
        vault.list_versions(SECRET)


@pytest.mark.parametrize(
    ("route", "call", "error"),
    [
        ("GetSecretVersions", lambda v, _: v.list_versions(SECRET), IncompleteListingError),
        ("GetSecret", lambda v, _: v.get_value(SECRET), ServiceError),
        (
            "SetSecret",
            lambda v, _: v.set_value(SECRET, Secret("value"), tags={}, expires_on=None, content_type="x"),
            ServiceError,
        ),
        ("UpdateSecret", lambda v, version: v.update(SECRET, version, tags={"stage": "revoked"}), ServiceError),
    ],
)
def test_an_html_200_is_not_an_answer(
    hostile: Hostile, vault: KeyVaultSecrets, route: str, call: Call, error: type[Exception]
) -> None:
    respond(hostile, route, "<html><body>Sign in</body></html>", content_type="text/html")
    with pytest.raises(error, match="expected application/json"):
        call(vault, stored(hostile)[-1][0])


def test_a_huge_answer_is_refused(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    respond(hostile, "GetSecretVersions", '{"value": [], "padding": "' + "x" * 12_000_000 + '"}')
    with pytest.raises(IncompleteListingError, match="expected at most"):
        vault.list_versions(SECRET)


def test_an_undecodable_get_never_quotes_the_value(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    respond(hostile, "GetSecret", '{"value": "SharedAccessSignature sig=leaked", "id": ')
    with pytest.raises(ServiceError) as raised:
        vault.get_value(SECRET)
    assert "leaked" not in str(raised.value)
    assert raised.value.__cause__ is None
    assert raised.value.__suppress_context__


def test_a_get_of_another_version_is_refused(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    wanted = stored(hostile)[0][0]
    respond(hostile, "GetSecret", {**item(hostile), "value": "a-value"})
    with pytest.raises(ServiceError, match=f"expected {wanted}"):
        vault.get_value(SECRET, wanted)


# -- does the secret exist? -----------------------------------------------------------------------------------------
def test_read_versions_tells_a_missing_secret_from_a_doubtful_listing(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    assert vault.read_versions("no-such-secret") is None
    assert vault.list_versions("no-such-secret") == []
    assert [v.version for v in vault.read_versions(SECRET) or []] == [v for v, _, _ in stored(hostile)]
    respond(hostile, "GetSecretVersions", {"value": []})  # an existing secret listed empty: a lie or a race
    with pytest.raises(IncompleteListingError, match="no versions of a secret that exists"):
        vault.read_versions(SECRET)


def test_a_404_that_is_not_secret_not_found_is_incomplete(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    respond(hostile, "GetSecretVersions", "<html>Not Found</html>", status=404, content_type="text/html", times=2)
    with pytest.raises(IncompleteListingError, match="404"):
        vault.list_versions(SECRET)
    with pytest.raises(IncompleteListingError, match="404"):
        vault.read_versions(SECRET)


# -- refused bearer, failing credential ------------------------------------------------------------------------------
def test_an_expired_bearer_is_an_auth_error_and_nothing_changes(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    before = stored(hostile)
    vault.list_versions(SECRET)  # the credential caches its token
    hostile.running.world.clock.advance(timedelta(hours=2))
    with pytest.raises(AuthError, match="401"):
        vault.set_value(
            SECRET, Secret("new-value"), tags={"stage": "pending"}, expires_on=None, content_type="text/plain"
        )
    with pytest.raises(AuthError, match="401"):
        vault.update(SECRET, before[-1][0], tags={"stage": "revoked"}, enabled=False)
    assert stored(hostile) == before


def test_a_failing_credential_is_an_auth_error(hostile: Hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDENTITY_HEADER", "not-the-header")
    vault = make_vault(hostile)
    with pytest.raises(AuthError, match=r"ClientAuthenticationError|CredentialUnavailableError") as raised:
        vault.get_value(SECRET)
    assert isinstance(raised.value, RotationError)
    with pytest.raises(IncompleteListingError):
        vault.list_versions(SECRET)


# -- retries --------------------------------------------------------------------------------------------------------
def test_a_dropped_update_is_retried(hostile: Hostile, vault: KeyVaultSecrets) -> None:
    version = stored(hostile)[-1][0]
    emulator(hostile).faults.add(Fault("drop", route="UpdateSecret", times=1))
    updated = vault.update(SECRET, version, tags={"stage": "current", "note": "retried"})
    assert updated.tags["note"] == "retried"
    counts = emulator(hostile).counters
    assert (counts.get("UpdateSecret", 0), counts.get("UpdateSecret", 200)) == (1, 1)


class LosesSetAnswers(KeyVaultEmulator):
    """Applies a SetSecret, then answers 500 instead of the new version, `lose` times."""

    lose = 0

    def routes(self) -> list[Route]:
        return [replace(r, handler=self._lossy(r.handler)) if r.name == "SetSecret" else r for r in super().routes()]

    def _lossy(self, handler: Callable[..., Response]) -> Callable[..., Response]:
        def run(request: Request, **args: str) -> Response:
            response = handler(request, **args)
            if self.lose > 0 and response.status_code == 200:
                self.lose -= 1
                raise HttpError(500, "InternalServerError", "the answer was lost (injected)")
            return response

        return run


def test_a_set_retried_after_it_was_applied_makes_a_duplicate_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What azure-core does, on purpose kept: a PUT is retried on 500; if the first attempt was applied, the
    vault holds two versions with the same value and tags (the newer is returned). They are interchangeable:
    whichever the slot reads as current is the same token, and the planner demotes the other as a leftover."""
    world = SandboxWorld()
    world.vault = LosesSetAnswers(
        world.authority, vault_name=VAULT_NAME, tenant_id=world.service.tenant_id, clock=world.clock
    )
    world.vault.grant(world.service.object_id, "officer")
    with hostile_world(tmp_path, monkeypatch, world=world) as lossy:
        vault = make_vault(lossy)
        world.vault.lose = 1
        tags = {"stage": "current", "token-id": "rot-x-20261123000000-abcd"}
        version = vault.set_value(
            "iotc-duplicate", Secret("the-value"), tags=tags, expires_on=None, content_type="text/plain"
        )
        versions = world.vault.versions("iotc-duplicate")
        assert [v.value for v in versions] == ["the-value", "the-value"]
        assert [dict(v.tags) for v in versions] == [tags, tags]
        assert version.version == versions[-1].version
        current = SlotState(tuple(vault.list_versions("iotc-duplicate"))).current
        assert current is not None
        assert current.version in {v.version for v in versions}
        assert current.tags == tags


def test_a_hung_vault_times_out(hostile: Hostile) -> None:
    emulator(hostile).faults.add(Fault("latency", route="GetSecretVersions", latency=2.0))
    with pytest.raises(IncompleteListingError, match=r"ServiceResponseError|ServiceResponseTimeoutError"):
        make_vault(hostile, timeout=0.2).list_versions(SECRET)
