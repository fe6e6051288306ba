"""The IoT Central adapter (httpx) against the emulator: paging, create/delete, retries, verification."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from azure.identity import ManagedIdentityCredential

from emulators.core import Fault
from emulators.sandbox import RunningWorld
from rotation.adapters.http import RateLimiter, RetryPolicy
from rotation.adapters.iotcentral import IoTCentralClient
from rotation.domain.model import RoleAssignment
from rotation.domain.secret import Secret
from rotation.errors import IncompleteListingError, ServiceError, ValidationError, VerificationError
from tests.live import bodies
from tests.live.bodies import Names

OPERATOR = RoleAssignment("ae2c9854-393b-4f97-8c42-479d70ce626e")


@pytest.fixture
def http(world: RunningWorld) -> Iterator[httpx.Client]:
    with httpx.Client(verify=ssl.create_default_context(cafile=str(world.ca.pem_path)), trust_env=False) as client:
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(world: RunningWorld, http: httpx.Client, sleeps: list[float]) -> IoTCentralClient:
    return IoTCentralClient(
        world.app_url("contoso-fleet"),
        http,
        credential=ManagedIdentityCredential(),
        limiter=RateLimiter(15),
        retry=RetryPolicy(sleep=sleeps.append),
    )


def test_listing_follows_next_link_to_the_end(world: RunningWorld, client: IoTCentralClient) -> None:
    world.world.iotcentral.page_size = 2
    tokens = client.list_tokens()
    assert {t.id for t in tokens} == set(world.world.iotcentral.app("contoso-fleet").tokens)
    assert world.world.iotcentral.counters.get("ApiTokens_List") == 3  # 5 tokens, pages of 2


def test_create_returns_the_value_only_as_a_secret_and_delete_is_idempotent(
    world: RunningWorld, client: IoTCentralClient
) -> None:
    expiry = world.world.clock.now() + timedelta(days=7)
    token, value = client.create_token("rot-test-20261123000000-abcd", frozenset({OPERATOR}), expiry)
    assert isinstance(value, Secret)
    assert value.reveal().startswith("SharedAccessSignature ")
    assert token.roles == frozenset({OPERATOR})
    assert token.expiry is not None
    assert abs(token.expiry - expiry) < timedelta(seconds=1)
    world.world.clock.advance(world.world.iotcentral.propagation_delay)  # a new token is accepted after it
    client.verify(value, "GET", "/api/devices")
    assert client.delete_token(token.id) is True
    assert client.delete_token(token.id) is False


def test_throttling_is_retried_honouring_retry_after(
    world: RunningWorld, client: IoTCentralClient, sleeps: list[float]
) -> None:
    world.world.iotcentral.faults.add(Fault("throttle", route="Roles_List", times=2, retry_after=3))
    assert "Fleet Auditor" in client.list_roles().values()
    assert sleeps == [3.0, 3.0]


def test_one_503_then_success_logs_exactly_one_retry_line(
    world: RunningWorld, client: IoTCentralClient, sleeps: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    world.world.iotcentral.faults.add(Fault("error", route="Roles_List", status=503, times=1))
    with caplog.at_level(logging.INFO, logger="rotation.http"):
        assert "Fleet Auditor" in client.list_roles().values()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retry ")]
    assert len(lines) == 1
    assert lines[0].startswith("retry what=list roles of ")
    assert " attempt=1 status=503 delay=" in lines[0]
    assert len(sleeps) == 1
    assert 0.2 <= sleeps[0] <= 0.4  # base delay plus at most one base delay of jitter


def test_a_dropped_connection_is_retried_and_a_create_with_the_same_id(
    world: RunningWorld, client: IoTCentralClient
) -> None:
    world.world.iotcentral.faults.add(Fault("drop", route="ApiTokens_List", times=1))
    assert client.list_tokens()
    world.world.iotcentral.faults.add(Fault("drop", route="ApiTokens_Create", times=1))
    token, value = client.create_token(
        "rot-test-20261123000000-zzzz", frozenset({OPERATOR}), world.world.clock.now() + timedelta(days=1)
    )
    assert token.id == "rot-test-20261123000000-zzzz"
    assert value.reveal()
    assert world.world.iotcentral.counters.get("ApiTokens_Create") == 2  # the drop, then the retry (same id)


def test_an_app_refusing_expiry_gets_the_create_again_without_it_once(
    world: RunningWorld, client: IoTCentralClient
) -> None:
    world.world.iotcentral.expiry_policy = "reject"
    asked = world.world.clock.now() + timedelta(days=30)
    token, value = client.create_token("rot-test-20261123000000-expi", frozenset({OPERATOR}), asked)
    assert value.reveal()
    assert token.expiry_refused is True
    assert token.expiry is not None
    assert token.expiry - asked > timedelta(days=300)  # the app's year
    assert world.world.iotcentral.counters.get("ApiTokens_Create") == 2  # the 400, then once without expiry


def test_a_400_not_naming_expiry_is_not_retried(world: RunningWorld, client: IoTCentralClient) -> None:
    with pytest.raises(ServiceError, match="400"):
        client.create_token(
            "rot-test-20261123000000-bad0",
            frozenset({RoleAssignment("no-such-role")}),
            world.world.clock.now() + timedelta(days=1),
        )
    assert world.world.iotcentral.counters.get("ApiTokens_Create") == 1


def test_persistent_failure_makes_the_listing_incomplete(world: RunningWorld, client: IoTCentralClient) -> None:
    world.world.iotcentral.faults.add(Fault("error", route="ApiTokens_List", status=500))
    with pytest.raises(IncompleteListingError, match="listing incomplete"):
        client.list_tokens()


def test_a_wrong_token_fails_verification(client: IoTCentralClient) -> None:
    with pytest.raises(VerificationError, match="401"):
        client.verify(Secret("SharedAccessSignature sr=x&sig=y&skn=nope&se=1"), "GET", "/api/devices")


@pytest.mark.parametrize("token_id", ["../users/x", "a b", "x" * 41, ""])
def test_token_ids_are_checked_before_they_reach_a_url(client: IoTCentralClient, token_id: str) -> None:
    with pytest.raises(ValidationError, match="token id"):
        client.delete_token(token_id)


@pytest.mark.parametrize("token_id", ["..", ".", "rot-a\n"])
def test_delete_refuses_ids_only_the_old_weak_check_accepted(
    world: RunningWorld, client: IoTCentralClient, token_id: str
) -> None:
    """The DELETE path uses the one strict check (rotation.domain.ids): a dot segment would be normalised
    to another resource, and `$` without fullmatch let a trailing newline through."""
    before = len(client.list_tokens())
    with pytest.raises(ValidationError, match="token id"):
        client.delete_token(token_id)
    assert len(client.list_tokens()) == before


def test_an_unregistered_identity_is_refused(world: RunningWorld, http: httpx.Client) -> None:
    northwind = IoTCentralClient(
        world.app_url("northwind-labs"),
        http,
        credential=ManagedIdentityCredential(),
        retry=RetryPolicy(sleep=lambda _: None),
    )
    with pytest.raises(IncompleteListingError, match="403"):
        northwind.list_tokens()


# -- contract bodies shared with the live suite (tests/live/bodies.py) --------------------------------------
def test_contract_create_list_delete_token(world: RunningWorld, client: IoTCentralClient) -> None:
    bodies.create_list_delete_token(client, Names("contract"), world.world.clock.now())


def test_contract_deleting_an_unknown_token_is_false(client: IoTCentralClient) -> None:
    bodies.deleting_an_unknown_token_is_false(client, Names("contract"))


def test_contract_listing_is_complete_across_pages(world: RunningWorld, client: IoTCentralClient) -> None:
    world.world.iotcentral.page_size = 2
    bodies.listing_is_complete_across_pages(client, Names("contract"), now=world.world.clock.now())


def test_contract_built_in_roles_are_listed(client: IoTCentralClient) -> None:
    bodies.built_in_roles_are_listed(client)
