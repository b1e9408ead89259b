"""Rewrite generated sections of a model card (``README.md``) and re-seal the package checksums.

A section is delimited by ``<!-- NAME -->`` … ``<!-- /NAME -->``. A card that holds only the
opening marker gets the closing one added, so rewriting is idempotent: running evaluation twice
replaces the section instead of appending to it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from models.errors import ModelPackageError
from models.package import METADATA_FILE, write_metadata

CARD_FILE = "README.md"


def rewrite_section(text: str, name: str, body: str) -> str:
    """``text`` with the ``name`` section's content replaced by ``body`` (markers kept)."""
    opening, closing = f"<!-- {name} -->", f"<!-- /{name} -->"
    block = f"{opening}\n{body.strip()}\n{closing}"
    pattern = re.compile(re.escape(opening) + r".*?" + re.escape(closing), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    if opening in text:
        return text.replace(opening, block, 1)
    raise ValueError(f"no {opening} marker in the model card")


def has_section(text: str, name: str) -> bool:
    return f"<!-- {name} -->" in text


def fill_package_card(package_dir: str | Path, sections: dict[str, str]) -> list[str]:
    """Rewrite ``sections`` (name → markdown) in a package's card, then refresh ``triage.json``.

    Sections whose marker the card lacks are skipped; returns the names rewritten. The card is
    one of the checksummed package files, so the package's file hashes are recomputed (every
    other ``triage.json`` field is kept as is).
    """
    root = Path(package_dir)
    card = root / CARD_FILE
    meta_file = root / METADATA_FILE
    if not card.is_file() or not meta_file.is_file():
        raise ModelPackageError(f"{root}: a model package needs {CARD_FILE} and {METADATA_FILE}")
    original = card.read_text(encoding="utf-8")
    text, done = original, []
    for name, body in sections.items():
        if has_section(text, name):
            text = rewrite_section(text, name, body)
            done.append(name)
    if text != original:
        card.write_text(text, encoding="utf-8")
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        meta.pop("files", None)
        write_metadata(root, meta)
    return done
