"""A copy of a model package whose ``triage.json`` carries the review floor chosen on dev crises
(``triage distill evaluate --folds events --review-floor-reach R --write-floor-package DIR``).

The copy keeps every file of the package; ``review_floors`` is replaced by the chosen floors,
``review_floor_choice`` records where the floor was chosen (dev crises, posts, requests, reach
target, dev reach and review share), the version gets a minor bump (the same weights now route
differently: ``1.4.0`` → ``1.5.0``), the model card gets an "Operating point for responders"
section with the rule and the numbers, and the checksums are rewritten
(:func:`models.package.write_metadata`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from distill.card_sections import CARD_FILE, rewrite_section
from models.errors import TriageError
from models.package import METADATA_FILE, ModelPackage, write_metadata
from models.repository import bumped

CHOICE_KEYS = (
    "reach_target",
    "floor",
    "dev_crises",
    "posts",
    "requests",
    "dev_reach",
    "dev_review_share",
)


SECTION = "OPERATING_POINT"
SECTION_TITLE = "## Operating point for responders"


def operating_point_text(choice: Mapping[str, Any], base: str = "") -> str:
    """The card section: the rule, where the floor was chosen, and what it does on the folds
    (``base``: the ``name@version`` whose weights the package keeps)."""
    floors = ", ".join(f"{label} {value:.4f}" for label, value in choice["review_floors"].items())
    crises = choice["dev_crises"]
    lines = [
        "Rule: a missed request is the costly error. The request review floor is the highest "
        f"value with which at least {choice['reach_target']:.0%} of the true requests of the dev "
        "crises reach `requests` or `review`; a post whose P(request) reaches it while its top "
        "label is another goes to `review` (`review_reason` `possible_request`) instead of that "
        "label's topic. Chosen on dev crises only (crises in no training data and in no test "
        f"fold): {choice['posts']:,} posts of {len(crises)} crises ({', '.join(crises)}), "
        f"{choice['requests']} requests.",
        "",
        f"- Floors: {floors}; there {choice['dev_reach']:.2f} of the requests reach `requests` "
        f"or `review`, and `review` holds {choice['dev_review_share']:.0%} of all posts.",
    ]
    macro = choice.get("macro")
    if macro:
        request = macro["labels"]["request"]
        lines.append(
            f"- Leave-one-crisis-out (macro over {macro['folds']} crises no model saw): "
            f"{request['reach']:.2f} of the requests reach `requests` or `review`; `review` holds "
            f"{macro['review_share']:.0%} of all posts (`benchmarks/RESULTS.md`)."
        )
    if base:
        lines.append(
            f"- Weights: those of {base}, unchanged (the accuracy and speed sections of this "
            "card were measured on them); only the review floor is new."
        )
    lines += [
        "",
        "Rebuild: `triage distill evaluate --folds events --models <base package> "
        f"--review-floor-reach {choice['reach_target']} --write-floor-package <dir>` "
        "(after `triage distill prepare --loco`).",
    ]
    return "\n".join(lines)


def _rewrite_card(
    card: Path, name: str, version: str, choice: Mapping[str, Any], base: str
) -> None:
    text = card.read_text(encoding="utf-8")
    text = re.sub(rf"^# {re.escape(name)} \S+", f"# {name} {version}", text, count=1, flags=re.M)
    body = operating_point_text(choice, base)
    if f"<!-- {SECTION} -->" not in text:
        block = f"{SECTION_TITLE}\n\n<!-- {SECTION} -->\n\n"
        at = text.find("\n## Limitations")
        text = text[: at + 1] + block + text[at + 1 :] if at != -1 else f"{text}\n{block}"
    card.write_text(rewrite_section(text, SECTION, body), encoding="utf-8")


def write_floor_package(
    package_dir: Path, choice: Mapping[str, Any], out_dir: Path, version: str | None = None
) -> Path:
    """Copy ``package_dir`` to ``out_dir/<its folder name>`` with the chosen review floors
    (version ``version``, default a minor bump of the package's)."""
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
    name, base_version = str(meta.get("name", source.name)), str(meta.get("version", "0.0.0"))
    meta["version"] = version or bumped(base_version, "minor")
    if (target / CARD_FILE).is_file():
        base = f"{name}@{base_version}"
        _rewrite_card(target / CARD_FILE, name, meta["version"], choice, base)
    write_metadata(target, meta)
    ModelPackage.load(target)
    return target
