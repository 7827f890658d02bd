"""`wallet-service certs`: dev, import and check as an operator runs them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from certificates.cli import certs_app, default_certificate_directory
from certificates.dev import generate_dev_chain
from tests.certificates.conftest import P12_PASSWORD, REAL_PASS_TYPE_ID, AppleBundle

runner = CliRunner()
app = typer.Typer()
app.add_typer(certs_app, name="certs")


def test_dev_then_check_reports_the_expiry(tmp_path: Path) -> None:
    created = runner.invoke(app, ["certs", "dev", "--dir", str(tmp_path)])
    checked = runner.invoke(app, ["certs", "check", "--dir", str(tmp_path)])

    assert created.exit_code == 0, created.output
    assert "generated development chain" in created.output
    assert "DEVELOPMENT ONLY" in created.output
    assert checked.exit_code == 0, checked.output
    assert "pass.dev.wallet-service.loyalty" in checked.output
    assert "DEVTEAM123" in checked.output
    assert "days)" in checked.output and "status           ok" in checked.output


def test_dev_accepts_pass_type_and_team_and_is_idempotent(tmp_path: Path) -> None:
    arguments = ["certs", "dev", "--dir", str(tmp_path), "--pass-type-id", "pass.dev.x"]
    runner.invoke(app, [*arguments, "--team-id", "TEAMX1"])

    again = runner.invoke(app, [*arguments, "--team-id", "TEAMX1"])

    assert again.exit_code == 0
    assert "kept existing" in again.output


def test_check_json_output_and_exit_code_one_when_expiring(tmp_path: Path) -> None:
    generate_dev_chain(
        tmp_path,
        "pass.dev.wallet-service.loyalty",
        "DEVTEAM123",
        now=datetime.now(UTC) - timedelta(days=350),
    )

    result = runner.invoke(app, ["certs", "check", "--dir", str(tmp_path), "--json"])

    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["expires_soon"] is True
    assert 13 <= report["days_to_expiry"] <= 15


def test_check_without_certificates_exits_two_with_a_message(tmp_path: Path) -> None:
    result = runner.invoke(app, ["certs", "check", "--dir", str(tmp_path / "nothing")])

    assert result.exit_code == 2
    assert "missing certificate file" in result.output


def test_import_with_the_right_password_then_check(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    result = runner.invoke(
        app,
        [
            "certs",
            "import",
            str(apple_bundle.p12),
            "--wwdr",
            str(apple_bundle.wwdr_der),
            "--dir",
            str(tmp_path),
        ],
        env={"WALLET_P12_PASSWORD": P12_PASSWORD},
    )

    assert result.exit_code == 0, result.output
    assert f"imported {REAL_PASS_TYPE_ID}" in result.output
    assert P12_PASSWORD not in result.output


def test_import_with_a_wrong_password_fails_clearly(
    tmp_path: Path, apple_bundle: AppleBundle
) -> None:
    result = runner.invoke(
        app,
        [
            "certs",
            "import",
            str(apple_bundle.p12),
            "--wwdr",
            str(apple_bundle.wwdr_pem),
            "--dir",
            str(tmp_path),
            "--password",
            "guess",
        ],
    )

    assert result.exit_code == 2
    assert "wrong password" in result.output


def test_import_prompts_for_the_password_when_not_given(
    tmp_path: Path, apple_bundle: AppleBundle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WALLET_P12_PASSWORD", raising=False)
    result = runner.invoke(
        app,
        [
            "certs",
            "import",
            str(apple_bundle.p12),
            "--wwdr",
            str(apple_bundle.wwdr_pem),
            "--dir",
            str(tmp_path),
        ],
        input=f"{P12_PASSWORD}\n",
    )

    assert result.exit_code == 0, result.output


def test_default_directory_follows_wallet_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WALLET_DATA_DIR", str(tmp_path / "data"))
    assert default_certificate_directory() == tmp_path / "data" / "certs"

    monkeypatch.delenv("WALLET_DATA_DIR")
    assert default_certificate_directory() == Path("data") / "certs"

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WALLET_DATA_DIR", str(tmp_path / "elsewhere"))
    result = runner.invoke(app, ["certs", "dev"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "elsewhere" / "certs" / "pass-certificate.pem").exists()


@pytest.mark.parametrize(
    ("variable", "configured", "actual"),
    [
        ("WALLET_APPLE_PASS_TYPE_ID", "pass.dev.someone-else", "pass.dev.issued-for"),
        ("WALLET_APPLE_TEAM_ID", "OTHERTEAM9", "ISSUEDTEAM"),
    ],
)
def test_check_exits_two_when_the_settings_name_another_identity_than_the_certificate(
    tmp_path: Path, variable: str, configured: str, actual: str
) -> None:
    generate_dev_chain(tmp_path, "pass.dev.issued-for", "ISSUEDTEAM")

    result = runner.invoke(
        app, ["certs", "check", "--dir", str(tmp_path)], env={variable: configured}
    )
    as_json = runner.invoke(
        app, ["certs", "check", "--dir", str(tmp_path), "--json"], env={variable: configured}
    )

    assert result.exit_code == 2, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("error:"))
    assert variable in line and configured in line and actual in line
    assert as_json.exit_code == 2
    assert configured in json.loads(as_json.stdout)["identity_mismatch"]


def test_check_passes_when_the_settings_name_the_certificate_identity(tmp_path: Path) -> None:
    generate_dev_chain(tmp_path, "pass.dev.issued-for", "ISSUEDTEAM")
    env = {"WALLET_APPLE_PASS_TYPE_ID": "pass.dev.issued-for", "WALLET_APPLE_TEAM_ID": "ISSUEDTEAM"}

    result = runner.invoke(app, ["certs", "check", "--dir", str(tmp_path)], env=env)

    assert result.exit_code == 0, result.output
