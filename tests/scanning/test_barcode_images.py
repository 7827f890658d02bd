"""The barcode on an issued pass scans: rendered as an image, read by real decoders, credited.

Encoders and decoders are independent of our code: segno draws QR codes, zxing-cpp draws the
other symbologies, and the Debian ``zbarimg`` binary and zxing-cpp read them back.
"""

from __future__ import annotations

import io
import json
import subprocess
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest
import segno
import zxingcpp
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.factories import Tenant, make_tenant

APPLE_TO_ZXING = {
    "PKBarcodeFormatQR": zxingcpp.QRCode,
    "PKBarcodeFormatPDF417": zxingcpp.PDF417,
    "PKBarcodeFormatAztec": zxingcpp.Aztec,
    "PKBarcodeFormatCode128": zxingcpp.Code128,
}


def _render(message: str, apple_format: str) -> Image.Image:
    if apple_format == "PKBarcodeFormatQR":
        buffer = io.BytesIO()
        segno.make_qr(message, error="m").save(buffer, kind="png", scale=6, border=4)
        return Image.open(io.BytesIO(buffer.getvalue())).convert("L")
    barcode = zxingcpp.create_barcode(message, APPLE_TO_ZXING[apple_format])
    image = barcode.to_image(scale=4)
    height, width = image.shape[:2]
    bitmap = Image.frombytes("L", (width, height), bytes(memoryview(image)))
    framed = Image.new("L", (width + 80, height + 80), 255)  # a quiet zone, as on a screen
    framed.paste(bitmap, (40, 40))
    return framed


def _decode_with_zbar(image: Image.Image, path: Path) -> str:
    image.save(path)
    result = subprocess.run(
        ["zbarimg", "--quiet", "--raw", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _decode_with_zxing(image: Image.Image) -> str:
    decoded = zxingcpp.read_barcode(image)
    assert decoded is not None and decoded.valid
    return str(decoded.text)


async def _issued_barcode(client: httpx.AsyncClient, tenant: Tenant) -> dict[str, str]:
    member = await client.post(
        f"/api/v1/programs/{tenant.program_id}/members",
        json={"given_name": "Lou"},
        headers=tenant.headers(),
    )
    assert member.status_code == 201, member.text
    pkpass = await client.get(member.json()["apple_pass_url"].removeprefix("https://wallet.test"))
    with zipfile.ZipFile(io.BytesIO(pkpass.content)) as archive:
        barcode: dict[str, str] = json.loads(archive.read("pass.json"))["barcodes"][0]
    return barcode


@pytest.mark.parametrize("apple_format", sorted(APPLE_TO_ZXING))
async def test_the_pass_barcode_decodes_and_credits_the_member(
    client: httpx.AsyncClient,
    session_factory: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    apple_format: str,
) -> None:
    tenant = await make_tenant(session_factory, client)
    barcode = await _issued_barcode(client, tenant)
    image = _render(barcode["message"], apple_format)
    decoded = [_decode_with_zxing(image)]
    if apple_format in {"PKBarcodeFormatQR", "PKBarcodeFormatCode128"}:  # what zbar reads
        decoded.append(_decode_with_zbar(image, tmp_path / "barcode.png"))
    assert set(decoded) == {barcode["message"]}

    scan = await client.post(
        "/api/v1/scans",
        json={"barcode": decoded[-1], "amount": {"value": "4.20", "currency": "EUR"}},
        headers={**tenant.headers(), "Idempotency-Key": str(uuid.uuid4())},
    )
    assert scan.status_code == 201, scan.text
    assert scan.json()["points_earned"] == 4
