"""Deployment files stay valid."""

from __future__ import annotations

import subprocess
from pathlib import Path


def test_compose_file_is_accepted_by_docker_compose(repo_root: Path) -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(repo_root / "docker" / "compose.yaml"), "config"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    for service in ("api:", "worker:", "postgres:"):
        assert service in result.stdout


def test_image_runs_as_non_root_with_a_healthcheck(repo_root: Path) -> None:
    dockerfile = (repo_root / "docker" / "Dockerfile").read_text()
    assert "\nUSER wallet" in dockerfile
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "-slim" in dockerfile
