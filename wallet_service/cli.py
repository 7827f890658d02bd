"""``wallet-service``: run the server, migrate, and administer merchants from the shell."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from certificates.cli import certs_app
from certificates.errors import CertificateError
from certificates.google import import_service_account
from wallet_service.api_keys.schemas import ApiKeyCreate
from wallet_service.api_keys.service import create_api_key
from wallet_service.clock import Clock, SystemClock
from wallet_service.config import get_settings
from wallet_service.db import migrate
from wallet_service.db.session import create_engine_for, create_session_factory, session_scope
from wallet_service.demo import DEMO_SLUG, seed_demo
from wallet_service.errors import WalletError
from wallet_service.links import MemberLinks
from wallet_service.merchants.schemas import MerchantCreate
from wallet_service.merchants.service import create_merchant, get_merchant_by_slug
from wallet_service.scanning.token import issue_token
from wallet_service.security.keys import derive_key
from wallet_service.security.permissions import Role
from wallet_service.security.principal import MerchantScope
from wallet_service.staff.schemas import StaffCreate
from wallet_service.staff.service import create_staff

__all__ = ["app"]

app = typer.Typer(help="Wallet loyalty service.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
merchant_app = typer.Typer(help="Merchants (tenants).", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
apikey_app = typer.Typer(help="POS API keys.", no_args_is_help=True)
google_app = typer.Typer(help="Google Wallet issuer accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(merchant_app, name="merchant")
app.add_typer(staff_app, name="staff")
app.add_typer(apikey_app, name="apikey")
app.add_typer(certs_app, name="certs")
app.add_typer(google_app, name="google")

T = TypeVar("T")


# The CLI's "now": the machine's clock. Tests of the commands replace it.
clock: Clock = SystemClock()


def _run_in_transaction(work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def runner() -> T:
        settings = get_settings()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine_for(settings.resolved_database_url)
        try:
            async with session_scope(create_session_factory(engine, clock)) as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(runner())
    except WalletError as exc:
        typer.secho(f"error: {exc.detail} ({exc.code})", fg=typer.colors.RED, err=True)
        raise typer.Exit(1) from exc


async def _scope_for(session: AsyncSession, slug: str) -> MerchantScope:
    merchant = await get_merchant_by_slug(session, slug)
    if merchant is None:
        from wallet_service.errors import NotFound

        raise NotFound(f"No merchant with slug {slug!r}.", code="merchant_not_found")
    return MerchantScope.for_operator(merchant.id)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Start the HTTP server."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "wallet_service.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level.lower(),
        proxy_headers=True,
    )


@app.command()
def worker(
    once: Annotated[
        bool, typer.Option("--once", help="Run one round of jobs, deliver what is due, exit.")
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve this worker's Prometheus /metrics on this port.")
    ] = None,
) -> None:
    """Run the background worker: the outbox dispatcher (pushes, Google, webhooks) and jobs."""
    import logging

    from wallet_service.worker import run_worker

    settings = get_settings()
    logging.basicConfig(level=settings.log_level.upper())
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from wallet_service.metrics import REGISTRY

        start_http_server(metrics_port, registry=REGISTRY)
    asyncio.run(run_worker(settings, clock, once=once))


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate.upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


@merchant_app.command("create")
def merchant_create(
    name: Annotated[str, typer.Option(help="Display name.")],
    slug: Annotated[str, typer.Option(help="Unique short name, e.g. maison-cafeine.")],
) -> None:
    """Create a merchant."""

    async def work(session: AsyncSession) -> str:
        merchant = await create_merchant(session, MerchantCreate(name=name, slug=slug))
        return str(merchant.id)

    typer.echo(_run_in_transaction(work))


@staff_app.command("create")
def staff_create(
    merchant: Annotated[str, typer.Option(help="Merchant slug.")],
    email: Annotated[str, typer.Option()],
    role: Annotated[Role, typer.Option()] = Role.owner,
    password: Annotated[
        str | None, typer.Option(help="Leave out to generate one (printed once).")
    ] = None,
) -> None:
    """Create a staff account."""
    clear = password or secrets.token_urlsafe(12)

    async def work(session: AsyncSession) -> str:
        scope = await _scope_for(session, merchant)
        data = StaffCreate.model_validate({"email": email, "password": clear, "role": role})
        staff = await create_staff(session, scope, data)
        return str(staff.id)

    staff_id = _run_in_transaction(work)
    typer.echo(f"staff {staff_id} {email} ({role.value})")
    if password is None:
        typer.echo(f"password: {clear}")


@apikey_app.command("create")
def apikey_create(
    merchant: Annotated[str, typer.Option(help="Merchant slug.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'Till 1'.")],
) -> None:
    """Create a POS API key; the key is printed once."""

    async def work(session: AsyncSession) -> str:
        scope = await _scope_for(session, merchant)
        _, generated = await create_api_key(session, scope, ApiKeyCreate(name=name))
        return generated.clear

    typer.echo(_run_in_transaction(work))


@google_app.command("import")
def google_import(
    merchant: Annotated[str, typer.Option(help="Merchant slug.")],
    issuer_id: Annotated[str, typer.Option(help="Issuer id from the Google Pay & Wallet Console.")],
    key: Annotated[
        Path,
        typer.Option(exists=True, dir_okay=False, help="Service-account JSON key file."),
    ],
) -> None:
    """Put a merchant's cards on Google Wallet: its issuer id and service-account key.

    The key is kept in the data directory (mode 0600), never in the database or a response.
    """
    settings = get_settings()

    async def work(session: AsyncSession) -> uuid.UUID:
        return (await _scope_for(session, merchant)).merchant_id

    merchant_id = _run_in_transaction(work)
    try:
        credentials = import_service_account(settings.certificates_dir, merchant_id, issuer_id, key)
    except CertificateError as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"Google Wallet issuer {credentials.issuer_id} set up for {merchant} "
        f"(service account {credentials.client_email})"
    )


@app.command()
def demo(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Seed the demo merchant (idempotent) and print its ids and credentials."""
    settings = get_settings()
    seed = _run_in_transaction(
        lambda session: seed_demo(session, settings.data_dir / "demo-credentials.json", clock.now())
    )
    links = MemberLinks.from_settings(settings)
    barcode = issue_token(
        derive_key(settings.signing_key(), "barcode-token"), seed.member_serial_number
    )
    extra = {
        "member_barcode": barcode,
        "member_apple_pass_url": links.apple_pass_url(seed.member_serial_number),
        "member_card_url": links.card_page_url(seed.member_serial_number),
    }
    if as_json:
        typer.echo(json.dumps({**seed.as_json(), **extra}, indent=2))
        return
    typer.echo(
        "\n".join(
            [
                f"Demo merchant  {seed.merchant_id} (shop code {DEMO_SLUG})",
                f"Program        {seed.program_id}",
                f"Stores         {', '.join(str(s) for s in seed.store_ids)}",
                f"Owner          {seed.owner_email} / {seed.owner_password}",
                f"Cashier        {seed.cashier_email} / {seed.cashier_password}",
                f"POS API key    {seed.pos_api_key}",
                f"Demo member    {seed.member_id} (barcode {barcode})",
                f"  Apple pass   {extra['member_apple_pass_url']}",
                f"  Card page    {extra['member_card_url']}",
                f"Scanner page   {settings.public_url}/scanner?merchant={DEMO_SLUG}",
            ]
        )
    )


if __name__ == "__main__":
    app()
