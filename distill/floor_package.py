"""A copy of a model package whose ``triage.json`` carries the review floor chosen on dev crises
(``triage distill evaluate --folds events --review-floor-reach R --write-floor-package DIR``).

The copy keeps every file of the package; ``review_floors`` is replaced by the chosen floors,
``review_floor_choice`` records where the floor was chosen (dev crises, posts, requests, reach
target, dev reach and review share) and the checksums are rewritten
(:func:`models.package.write_metadata`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from models.errors import TriageError
from models.package import METADATA_FILE, ModelPackage, write_metadata

CHOICE_KEYS = (
    "reach_target",
    "floor",
    "dev_crises",
    "posts",
    "requests",
    "dev_reach",
    "dev_review_share",
)


def write_floor_package(package_dir: Path, choice: Mapping[str, Any], out_dir: Path) -> Path:
    """Copy ``package_dir`` to ``out_dir/<its folder name>`` with the chosen review floors."""
    source = Path(package_dir)
    if not (source / METADATA_FILE).is_file():
        raise TriageError(f"{source} is not a model package: no floor package written for it")
    ModelPackage.load(source)  # verify the checksums before copying
    target = Path(out_dir) / source.name
    if target.resolve() == source.resolve():
        raise TriageError(f"--write-floor-package would overwrite {source}: choose another folder")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(source, target)
    meta = json.loads((target / METADATA_FILE).read_text(encoding="utf-8"))
    meta.pop("files", None)
    meta["review_floors"] = dict(choice["review_floors"])
    meta["review_floor_choice"] = {key: choice[key] for key in CHOICE_KEYS}
    write_metadata(target, meta)
    ModelPackage.load(target)
    return target
