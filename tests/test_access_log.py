"""uvicorn's access log never records a member's link token or a card's barcode.

The card page, the pass download and the Google save hop carry a per-member token in their
path, and the till's look-up carries the scanned barcode in its query: whoever reads the
logs could otherwise open any card or redeem on it. The server runs as in production (its
own process, uvicorn's logging), and the test reads what uvicorn wrote.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.live_server import serve
from wallet_service.http.access_log import redact

SERIAL = "0f1e2d3c-4b5a-4697-8877-665544332211"
TOKEN = "abcdefghijklmnopqrstuvwxyz234567"  # the shape of a link token: 32 base32 characters
BARCODE = "WS1.c2VjcmV0LWJhcmNvZGU.3xq"


def test_access_log_keeps_method_path_and_status_but_not_link_tokens_or_barcodes(
    tmp_path: Path,
) -> None:
    log = tmp_path / "server.log"
    requests = [
        f"/card/{SERIAL}/{TOKEN}",
        f"/wallet/apple/{SERIAL}/{TOKEN}.pkpass",
        f"/wallet/google/{SERIAL}/{TOKEN}",
        f"/api/v1/scans/lookup?barcode={BARCODE}&offset=0",
        f"/api/v1/members?program_id={SERIAL}&limit=5&token={TOKEN}",
    ]
    with log.open("wb") as output, serve(tmp_path, log_level="info", output=output) as server:
        for path in requests:
            httpx.get(f"{server.url}{path}", timeout=10)
    written = log.read_text()
    access = [line for line in written.splitlines() if '"GET /' in line]
    assert len(access) >= len(requests), written
    assert TOKEN not in written and BARCODE not in written
    # What an operator needs stays: the route, the serial (which opens nothing) and the status.
    assert f'"GET /card/{SERIAL}/*** HTTP/1.1" 404' in written
    assert f'"GET /wallet/apple/{SERIAL}/***.pkpass HTTP/1.1"' in written
    assert f'"GET /wallet/google/{SERIAL}/*** HTTP/1.1"' in written
    assert '"GET /api/v1/scans/lookup?barcode=***&offset=0 HTTP/1.1" 401' in written
    assert f'"GET /api/v1/members?program_id={SERIAL}&limit=5&token=*** HTTP/1.1" 401' in written


@pytest.mark.parametrize(
    ("target", "logged"),
    [
        (f"/card/{SERIAL}/{TOKEN}/", f"/card/{SERIAL}/***/"),
        (f"/wallet/apple/{SERIAL}/{TOKEN}", f"/wallet/apple/{SERIAL}/***"),
        (f"/prefix/wallet/google/{SERIAL}/{TOKEN}", f"/prefix/wallet/google/{SERIAL}/***"),
        ("/wallet/google/images/cafe/logo.png", "/wallet/google/images/cafe/logo.png"),
        ("/api/v1/scans/lookup?barcode", "/api/v1/scans/lookup?barcode"),
        (f"/x?a={TOKEN}&b=&limit=5", "/x?a=***&b=***&limit=5"),
    ],
)
def test_odd_link_and_query_shapes_are_masked_too(target: str, logged: str) -> None:
    assert redact(target) == logged
