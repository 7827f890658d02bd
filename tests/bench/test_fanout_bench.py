"""The fan-out benchmark's machinery at a tiny scale, so that it cannot rot: seeding, the
stand-in in its own process, the bare client, the rename, one dispatcher, the report.
No timing is asserted (this machine is shared); what is counted is."""

from __future__ import annotations

import os
from pathlib import Path

from bench.fanout_bench import PASS_TYPE_ID, bench_backend, report_section, results_table

DEVICES = 50


def test_a_renamed_program_pushes_every_registered_device_once_and_the_bare_client_too(
    tmp_path: Path,
) -> None:
    backend = "postgresql" if os.environ.get("WALLET_TEST_DATABASE_URL") else "sqlite"
    run = bench_backend(backend, DEVICES, tmp_path)

    assert run.error is None and run.complete
    sent, received = run.dispatched or (None, None)
    assert sent is not None and received is not None
    assert received.topics == {PASS_TYPE_ID: DEVICES}
    # Both program rows (Apple's pages, and Google's with no issuer account) were delivered.
    assert sent.report is not None and sent.report.delivered == 2 and sent.report.dead == 0
    assert run.commit_to_last_push >= run.commit_to_first_push > 0
    assert len(run.bare) == 2
    assert run.raw is not None
    for bare, seen in [*run.bare, run.raw]:
        assert bare.statuses == {200: DEVICES}
        assert (seen.received, seen.distinct) == (DEVICES, DEVICES)
    assert run.ratio is not None and run.ceiling > 0

    section = report_section([run], DEVICES, (0.0, 0.0, 0.0))
    assert results_table([run]) in section
    assert "10 million" in section
