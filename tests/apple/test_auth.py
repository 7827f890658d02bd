"""The derived authenticationToken: stable, long enough, URL-safe, compared in constant time."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet_service.apple.auth import derive_authentication_token, tokens_match

KEY = b"server-key-for-tests-0123456789ab"
SERIAL = "0b7c5a5e-3f6d-4a8e-9c1b-2d4f6a8c0e12"


def test_token_is_stable_across_reissues() -> None:
    assert derive_authentication_token(KEY, SERIAL) == derive_authentication_token(KEY, SERIAL)


@given(serial=st.text(min_size=1, max_size=64))
def test_token_is_url_safe_and_at_least_sixteen_characters(serial: str) -> None:
    token = derive_authentication_token(KEY, serial)

    assert len(token) >= 16
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)


def test_token_depends_on_serial_and_server_key() -> None:
    token = derive_authentication_token(KEY, SERIAL)

    assert token != derive_authentication_token(KEY, SERIAL + "x")
    assert token != derive_authentication_token(KEY[::-1], SERIAL)


def test_short_server_keys_and_empty_serials_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 16 bytes"):
        derive_authentication_token(b"short", SERIAL)
    with pytest.raises(ValueError, match="serial_number"):
        derive_authentication_token(KEY, "")


def test_tokens_match_only_when_identical() -> None:
    token = derive_authentication_token(KEY, SERIAL)

    assert tokens_match(token, token)
    assert not tokens_match(token[:-1], token)
    assert not tokens_match("", token)
    assert not tokens_match("é" * 43, token)  # non-ASCII input is compared, not an exception
