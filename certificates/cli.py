"""``wallet-service certs``: generate, import and check pass signing certificates.

A Typer sub-application (:data:`certs_app`) mounted by the main CLI. Each
command takes the certificate directory as ``--dir``; its default is
``$WALLET_DATA_DIR/certs``, or ``./data/certs`` when the variable is unset.

Exit codes: ``0`` success; ``1`` from ``check`` when the material expires within
30 days or already expired (so cron can alert); ``2`` when material is missing
or invalid, a password is wrong, or ``check`` finds the certificate issued for another
pass type id or team id than ``WALLET_APPLE_PASS_TYPE_ID`` / ``WALLET_APPLE_TEAM_ID``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from certificates.dev import generate_dev_chain
from certificates.errors import CertificateError
from certificates.store import (
    EXPIRY_WARNING_DAYS,
    CertificateReport,
    check,
    identity_mismatch,
    import_p12,
)

__all__ = [
    "DEFAULT_PASS_TYPE_ID",
    "DEFAULT_TEAM_ID",
    "certs_app",
    "default_certificate_directory",
]

DEFAULT_PASS_TYPE_ID = "pass.dev.wallet-service.loyalty"  # noqa: S105 - an identifier, not a secret
DEFAULT_TEAM_ID = "DEVTEAM123"

certs_app = typer.Typer(
    name="certs",
    help="Pass signing certificates: development chain, .p12 import, expiry check.",
    no_args_is_help=True,
)


def default_certificate_directory() -> Path:
    """Resolve the default ``--dir``: ``$WALLET_DATA_DIR/certs`` or ``./data/certs``."""
    data_dir = os.environ.get("WALLET_DATA_DIR")
    return Path(data_dir) / "certs" if data_dir else Path("data") / "certs"


DirectoryOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        default_factory=default_certificate_directory,
        file_okay=False,
        help="Certificate directory [default: $WALLET_DATA_DIR/certs or ./data/certs].",
        show_default=False,
    ),
]


def _fail(error: CertificateError) -> typer.Exit:
    typer.secho(f"error: {error}", err=True, fg=typer.colors.RED)
    return typer.Exit(code=2)


@certs_app.command("dev")
def dev_command(
    directory: DirectoryOption,
    pass_type_id: Annotated[
        str, typer.Option("--pass-type-id", help="Pass type identifier to embed.")
    ] = DEFAULT_PASS_TYPE_ID,
    team_id: Annotated[
        str, typer.Option("--team-id", help="Team identifier to embed.")
    ] = DEFAULT_TEAM_ID,
) -> None:
    """Create a local development chain (reused when present and still valid)."""
    try:
        chain = generate_dev_chain(directory, pass_type_id, team_id)
    except CertificateError as error:
        raise _fail(error) from error
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    verb = "generated" if chain.generated else "kept existing"
    typer.echo(f"{verb} development chain in {directory}")
    for label, path in (
        ("root CA", chain.root_certificate),
        ("intermediate", chain.intermediate_certificate),
        ("pass certificate", chain.pass_certificate),
        ("pass key (0600)", chain.pass_key),
    ):
        typer.echo(f"  {label:<17} {path}")
    typer.secho(
        "DEVELOPMENT ONLY: passes signed with this chain do not install on an iPhone.",
        fg=typer.colors.YELLOW,
    )


@certs_app.command("import")
def import_command(
    p12: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="Pass Type ID .p12 exported from Keychain."
        ),
    ],
    wwdr: Annotated[
        Path,
        typer.Option(
            "--wwdr", exists=True, dir_okay=False, help="Apple WWDR G4 certificate (PEM or DER)."
        ),
    ],
    directory: DirectoryOption,
    password: Annotated[
        str,
        typer.Option(
            "--password",
            prompt=True,
            hide_input=True,
            envvar="WALLET_P12_PASSWORD",
            help="Password of the .p12 (prompted when omitted).",
        ),
    ],
) -> None:
    """Import a real Pass Type ID certificate and Apple's WWDR intermediate."""
    try:
        material = import_p12(p12, password, wwdr, directory)
        report = check(directory)
    except CertificateError as error:
        raise _fail(error) from error
    typer.echo(f"imported {material.pass_type_id} (team {material.team_id}) into {directory}")
    _print_report(report)


@certs_app.command("check")
def check_command(
    directory: DirectoryOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object.")] = False,
    pass_type_id: Annotated[
        str | None,
        typer.Option(
            "--pass-type-id",
            envvar="WALLET_APPLE_PASS_TYPE_ID",
            help="The pass type id the service is configured with; must be the certificate's.",
        ),
    ] = None,
    team_id: Annotated[
        str | None,
        typer.Option(
            "--team-id",
            envvar="WALLET_APPLE_TEAM_ID",
            help="The team id the service is configured with; must be the certificate's.",
        ),
    ] = None,
) -> None:
    """Show the certificate identity and expiry; exit 1 when it expires soon, 2 on a mismatch."""
    try:
        report = check(directory)
    except CertificateError as error:
        raise _fail(error) from error
    mismatch = identity_mismatch(report, pass_type_id=pass_type_id, team_id=team_id)
    if as_json:
        typer.echo(json.dumps({**_report_dict(report), "identity_mismatch": mismatch}, indent=2))
    else:
        _print_report(report)
    if mismatch:
        typer.secho(f"error: {mismatch}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2)
    if report.expires_soon:
        raise typer.Exit(code=1)


def _report_dict(report: CertificateReport) -> dict[str, object]:
    return {
        "directory": str(report.directory),
        "subject": report.subject,
        "pass_type_id": report.pass_type_id,
        "team_id": report.team_id,
        "not_after": report.not_after.isoformat(),
        "days_to_expiry": report.days_to_expiry,
        "expires_soon": report.expires_soon,
        "expired": report.expired,
        "development": report.development,
        "intermediate_subject": report.intermediate_subject,
        "intermediate_not_after": report.intermediate_not_after.isoformat(),
        "intermediate_days_to_expiry": report.intermediate_days_to_expiry,
    }


def _print_report(report: CertificateReport) -> None:
    typer.echo(f"subject          {report.subject}")
    typer.echo(f"pass type id     {report.pass_type_id}")
    typer.echo(f"team id          {report.team_id}")
    typer.echo(
        f"expires          {report.not_after:%Y-%m-%d %H:%M} UTC (in {report.days_to_expiry} days)"
    )
    typer.echo(
        f"intermediate     {report.intermediate_subject}, expires "
        f"{report.intermediate_not_after:%Y-%m-%d} (in {report.intermediate_days_to_expiry} days)"
    )
    if report.development:
        typer.secho("kind             DEVELOPMENT chain (not valid on iPhone)", fg="yellow")
    if report.expired:
        typer.secho("status           EXPIRED: renew and import a new .p12 now", fg="red")
    elif report.expires_soon:
        typer.secho(
            f"status           expires within {EXPIRY_WARNING_DAYS} days: renew it", fg="yellow"
        )
    else:
        typer.secho("status           ok", fg="green")
