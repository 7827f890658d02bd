"""RFC 6238 TOTP: the Appendix B vectors, and the current-or-previous-step window."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from wallet_service.scanning.totp import (
    TotpAlgorithm,
    match_totp_step,
    totp_at,
    totp_step,
    verify_totp,
)

SHA1_SEED = b"12345678901234567890"
SEEDS: dict[TotpAlgorithm, bytes] = {
    "sha1": SHA1_SEED,
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}

# RFC 6238, Appendix B: (time, SHA1, SHA256, SHA512), 8 digits.
RFC6238_VECTORS = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize(("seconds", "sha1", "sha256", "sha512"), RFC6238_VECTORS)
def test_codes_match_the_rfc_6238_appendix_b_vectors(
    seconds: int, sha1: str, sha256: str, sha512: str
) -> None:
    expectations: list[tuple[TotpAlgorithm, str]] = [
        ("sha1", sha1),
        ("sha256", sha256),
        ("sha512", sha512),
    ]
    for algorithm, expected in expectations:
        assert totp_at(SEEDS[algorithm], seconds, 8, algorithm=algorithm) == expected


def test_aware_datetimes_and_unix_seconds_give_the_same_code() -> None:
    moment = datetime(2005, 3, 18, 1, 58, 29, tzinfo=UTC)

    assert totp_at(SHA1_SEED, moment, 8) == "07081804"
    assert totp_at(SHA1_SEED, moment) == "081804"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError):
        totp_at(SHA1_SEED, datetime(2005, 3, 18, 1, 58, 29))


def test_the_current_and_previous_step_are_accepted_but_not_older_or_future_ones() -> None:
    now = 1111111111.0
    step = totp_step(now)
    current = totp_at(SHA1_SEED, now)
    previous = totp_at(SHA1_SEED, now - 30)
    older = totp_at(SHA1_SEED, now - 60)
    future = totp_at(SHA1_SEED, now + 30)

    assert match_totp_step(SHA1_SEED, current, now) == step
    assert match_totp_step(SHA1_SEED, previous, now) == step - 1
    assert not verify_totp(SHA1_SEED, older, now)
    assert not verify_totp(SHA1_SEED, future, now)
    assert not verify_totp(SHA1_SEED, previous, now, accept_previous_steps=0)


def test_a_code_is_valid_until_the_end_of_the_step_after_its_own() -> None:
    code = totp_at(SHA1_SEED, 60)

    assert verify_totp(SHA1_SEED, code, 119.999)
    assert not verify_totp(SHA1_SEED, code, 120)


@pytest.mark.parametrize("code", ["", "12345", "1234567", "12a456", "١٢٣٤٥٦", None])
def test_malformed_codes_are_rejected(code: str) -> None:
    assert not verify_totp(SHA1_SEED, code, 59)


def test_spaces_typed_in_a_code_are_ignored() -> None:
    code = totp_at(SHA1_SEED, 59)

    assert verify_totp(SHA1_SEED, f" {code[:3]} {code[3:]} ", 59)


def test_the_number_of_digits_is_configurable_within_reason() -> None:
    assert len(totp_at(SHA1_SEED, 59, 10)) == 10
    with pytest.raises(ValueError):
        totp_at(SHA1_SEED, 59, 4)
