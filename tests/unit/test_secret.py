"""`Secret` never shows its value except through `.reveal()`."""

from __future__ import annotations

import json
import logging
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rotation.domain.secret import REDACTED, Secret


@given(st.text(min_size=1))
def test_value_never_appears_in_repr_str_or_format(value: str) -> None:
    secret = Secret(value)
    assert repr(secret) == REDACTED
    assert str(secret) == REDACTED
    assert f"{secret}" == REDACTED
    assert f"{secret!r:>40}".strip() == REDACTED
    assert secret.reveal() == value


def test_secret_refuses_pickle_and_json() -> None:
    secret = Secret("SharedAccessSignature sr=x&sig=canary&skn=t&se=1")
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        json.dumps({"v": secret})


def test_secret_in_log_records_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    canary = "canary-value-1234"
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("minted %s in %r", Secret(canary), [Secret(canary)])
    assert canary not in caplog.text
    assert REDACTED in caplog.text


def test_secret_is_immutable_and_compares_by_value() -> None:
    a, b = Secret("x1"), Secret("x1")
    assert a == b
    assert a != Secret("x2")
    with pytest.raises(AttributeError):
        a._value = "y"
    with pytest.raises(TypeError):
        Secret("")
