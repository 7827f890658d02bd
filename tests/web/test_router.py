"""The web router without a browser: what ``mount_web`` serves, and with which headers."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from wallet_service.app import create_app
from wallet_service.config import Environment, Settings
from wallet_service.web.pages import STATIC_DIR


@pytest.fixture
def web_app(tmp_path: Path) -> FastAPI:
    settings = Settings(
        environment=Environment.test,
        data_dir=tmp_path,
        secret_key="web-router-test-secret-0123456789abcdef",
    )
    return create_app(settings)


@pytest.fixture
async def http(web_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    # The pages need no database, so the app's lifespan is not started.
    transport = httpx.ASGITransport(app=web_app)
    async with httpx.AsyncClient(transport=transport, base_url="https://wallet.test") as client:
        yield client


async def test_the_scanner_page_is_html_with_a_strict_policy(http: httpx.AsyncClient) -> None:
    response = await http.get("/scanner")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["permissions-policy"].startswith("camera=(self)")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert '<meta name="viewport"' in response.text
    assert 'data-api-base="/api/v1"' in response.text
    # No inline script or style: everything the page runs comes from /static.
    assert re.search(r"<script(?![^>]*\bsrc=)", response.text) is None
    assert "style=" not in response.text and "<style" not in response.text
    assert "http://" not in response.text and "https://" not in response.text


async def test_every_asset_the_page_links_is_served_by_us(http: httpx.AsyncClient) -> None:
    page = (await http.get("/scanner")).text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page)
    assert {a.split("?")[0] for a in assets} == {
        "/static/scanner.js",
        "/static/web.css",
        "/static/favicon.svg",
    }
    for asset in assets:
        # The version is a content hash, so a deploy reaches every till at once.
        assert re.search(r"\?v=[0-9a-f]{12}$", asset), asset
        response = await http.get(asset)
        assert response.status_code == 200, asset
        name = asset.split("?")[0].removeprefix("/static/")
        assert response.content == (STATIC_DIR / name).read_bytes()


async def test_pages_stay_out_of_the_api_schema(web_app: FastAPI) -> None:
    paths = web_app.openapi()["paths"]
    assert "/scanner" not in paths
    assert not any(path.startswith("/static") for path in paths)


async def test_static_files_outside_the_folder_are_not_served(http: httpx.AsyncClient) -> None:
    response = await http.get("/static/../router.py")
    assert response.status_code == 404
    response = await http.get("/static/%2e%2e/router.py")
    assert response.status_code == 404
