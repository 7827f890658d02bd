"""What every benchmark's report needs: the machine's CPU model, and its own section of
``docs/benchmarks.md`` rewritten in place (between ``<!-- bench:NAME -->`` markers)."""

from __future__ import annotations

import platform
import re
from pathlib import Path

__all__ = ["DOC", "cpu_model", "write_section"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_section(name: str, section: str, doc: Path = DOC) -> None:
    """Replace (or append) the section ``name`` of the benchmarks document."""
    begin, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    doc.parent.mkdir(parents=True, exist_ok=True)
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section.strip()}\n{end}"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text, encoding="utf-8")
