"""Fixtures for the Apple pass tests: a development chain and its signer, made once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from certificates.dev import DevChain, generate_dev_chain
from certificates.store import load_signing_material
from wallet_service.apple.signing import Pkcs7PassSigner

PASS_TYPE_ID = "pass.test.wallet-service.apple"
TEAM_ID = "APPLETEST1"


@pytest.fixture(scope="session")
def dev_chain(tmp_path_factory: pytest.TempPathFactory) -> DevChain:
    return generate_dev_chain(tmp_path_factory.mktemp("apple-certs"), PASS_TYPE_ID, TEAM_ID)


@pytest.fixture(scope="session")
def signer(dev_chain: DevChain) -> Pkcs7PassSigner:
    return Pkcs7PassSigner.from_material(load_signing_material(Path(dev_chain.pass_key).parent))
