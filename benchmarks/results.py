"""RESULTS.md sections: each benchmark replaces only its own ``## `` section."""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(heading: str, section: str, path: Path = RESULTS) -> None:
    """Replace the section that starts with ``heading`` (or append it) in ``path``."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    start = text.find(heading)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        end = text.find("\n## ", start + len(heading))
        rest = "\n" + text[end + 1 :] if end != -1 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + rest
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
