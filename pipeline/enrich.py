"""Enrichment of a post: which resources it is about, and where it is.

``enrich(post) -> {"resources": [...], "location": {...} | None}``; pure, no network, well under
0.1 ms per post, so the streaming job calls it for every routed message.

**Resource types** (``pipeline/data/resources.json``): a lexicon of lemma patterns per type
(food, water, shelter, medical, rescue, money, volunteers, transport, fuel, power,
communication, clothing, sanitation). The post is normalised first: HTML entities decoded,
URLs and @mentions dropped (handles like @WaterAid are not needs), hashtags split on camel case
(``#NeedWater`` → ``need water``), accents folded, lower-cased. Each term matches on word
boundaries, its last word also in plural form (``-s``/``-es``, ``-y`` → ``-ies``), ``*``
suffixes match word endings (``evacuat*``), ``re:`` terms are raw regexes (money amounts,
text-to-give numbers), compiled once into one pattern. Per-type exclusion phrases veto matches
lying inside them (``flood water`` is not a water need, ``tear gas`` is not fuel). Phrases are
found by dictionary look-ups on the post's word tokens (a lexicon index by first word, plural
forms expanded at load time), which is ~10x faster than scanning hundreds of regex
alternatives, and overlapping phrases of different types are all kept.

**Location**: the post's ``geo`` (``{"lat", "lon", "name"?}``, or a GeoJSON Point) wins, method
``geo``. Otherwise place names in the text are looked up in a shipped gazetteer
(``pipeline/data/gazetteer.csv``: countries, territories, US states, Puerto Rico's 77
municipalities, and regions and cities often hit by disasters, with approximate centre
coordinates), method ``gazetteer``: longest match first over word n-grams (hashtags split on
camel case; lower-case hashtags such as ``#prayforpuertorico`` are searched for run-together
names), accent- and case-insensitive except rows flagged ``case`` (Turkey, Chad, Jordan...) and
two-letter acronyms (PR, UK), which must keep their capitals. Rows flagged ``ctx`` (common words
or names elsewhere too: Carolina, Salinas, Victoria...) count only when another place of the
same country is named in the post; a one-word name right after "New" is skipped (New Britain,
Connecticut is not Britain). The most specific match wins (city/municipality over
state/region over country), ties going to the first mentioned.
"""

from __future__ import annotations

import csv
import html
import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).resolve().parent / "data"
RESOURCES_PATH = DATA_DIR / "resources.json"
GAZETTEER_PATH = DATA_DIR / "gazetteer.csv"

# Specificity of a gazetteer kind: the most specific place named in a post wins.
KIND_RANK: dict[str, int] = {
    "country": 0,
    "territory": 1,
    "state": 1,
    "region": 1,
    "island": 2,
    "district": 2,
    "city": 3,
    "municipality": 3,
}

_URL = re.compile(r"https?://\S+|www\.\S+")
_MENTION = re.compile(r"(?<![\w@])@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=\d)")
_COMBINING = re.compile(r"[\u0300-\u036f]")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


def _fold(text: str) -> str:
    """Accents folded (``ü`` → ``u``), other non-ASCII characters → spaces, quotes → ``'``."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    if text.isascii():
        return text
    return _NON_ASCII.sub(" ", _COMBINING.sub("", unicodedata.normalize("NFKD", text)))


@dataclass(frozen=True)
class _Normalized:
    text: str  # cleaned, original case, hashtags split
    lower_hashtags: tuple[str, ...]  # bodies of all-lower-case hashtags (run-together words)


def _normalize(raw: str) -> _Normalized:
    text = _MENTION.sub(" ", _URL.sub(" ", html.unescape(raw)))
    lower_tags: list[str] = []

    def split_tag(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.islower() and len(body) > 5:
            lower_tags.append(_fold(body))
        return " " + _CAMEL.sub(" ", body.replace("_", " ")) + " "

    text = _fold(_HASHTAG.sub(split_tag, text))
    return _Normalized(text, tuple(lower_tags))


# ---------------------------------------------------------------- resources

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _surface_forms(word: str) -> frozenset[str]:
    """A lemma and its plurals: ``-s``, ``-es``, consonant + ``y`` → ``-ies``."""
    forms = {word, word + "s", word + "es"}
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    return frozenset(forms)


@dataclass(frozen=True)
class _Term:
    """A lexicon phrase: exact words, then a last word given as surface forms or a prefix."""

    kind: int  # index of the resource type
    head: tuple[str, ...]
    last_forms: frozenset[str] | None
    last_prefix: str | None

    @property
    def length(self) -> int:
        return len(self.head) + 1

    def matches(self, tokens: list[str], start: int) -> bool:
        n = len(self.head)
        if start + n >= len(tokens) or tuple(tokens[start : start + n]) != self.head:
            return False
        last = tokens[start + n]
        if self.last_prefix is not None:
            return last.startswith(self.last_prefix)
        return last in self.last_forms  # type: ignore[operator]


class _PhraseIndex:
    """Finds lexicon phrases in a token list with dictionary look-ups (no regex scans)."""

    PREFIX_KEY = 4  # prefix terms are indexed by their first 4 characters

    def __init__(self) -> None:
        self.by_word: dict[str, list[_Term]] = {}
        self.by_prefix: dict[str, list[_Term]] = {}

    def add(self, kind: int, phrase: str) -> None:
        words = _WORD.findall(phrase.lower())
        prefix = phrase.endswith("*")
        if prefix and len(words[-1]) < self.PREFIX_KEY:
            raise ValueError(f"prefix term {phrase!r} needs at least {self.PREFIX_KEY} letters")
        term = _Term(
            kind=kind,
            head=tuple(words[:-1]),
            last_forms=None if prefix else _surface_forms(words[-1]),
            last_prefix=words[-1] if prefix else None,
        )
        if len(words) > 1:
            self.by_word.setdefault(words[0], []).append(term)
        elif prefix:
            self.by_prefix.setdefault(words[0][: self.PREFIX_KEY], []).append(term)
        else:
            for form in term.last_forms or ():
                self.by_word.setdefault(form, []).append(term)

    def spans(self, tokens: list[str]) -> dict[int, list[tuple[int, int]]]:
        """Token spans of every phrase found, by kind (overlapping phrases all kept)."""
        found: dict[int, list[tuple[int, int]]] = {}
        for i, token in enumerate(tokens):
            for bucket in (self.by_word.get(token), self.by_prefix.get(token[: self.PREFIX_KEY])):
                for term in bucket or ():
                    if term.matches(tokens, i):
                        found.setdefault(term.kind, []).append((i, i + term.length))
        return found


@dataclass(frozen=True)
class _ResourceLexicon:
    types: tuple[str, ...]
    terms: _PhraseIndex
    excludes: _PhraseIndex
    patterns: re.Pattern[str] | None  # the lexicon's ``re:`` terms, one named group per type


@lru_cache(maxsize=1)
def _resource_lexicon() -> _ResourceLexicon:
    spec = json.loads(RESOURCES_PATH.read_text(encoding="utf-8"))["types"]
    types = tuple(spec)
    terms, excludes = _PhraseIndex(), _PhraseIndex()
    raw: list[str] = []
    for kind, name in enumerate(types):
        own_raw = []
        for term in spec[name]["terms"]:
            if term.startswith("re:"):
                own_raw.append(term[3:])
            else:
                terms.add(kind, term)
        for phrase in spec[name].get("exclude", ()):
            excludes.add(kind, phrase)
        if own_raw:
            raw.append(f"(?P<t{kind}>{'|'.join(own_raw)})")
    return _ResourceLexicon(
        types=types,
        terms=terms,
        excludes=excludes,
        patterns=re.compile("|".join(raw)) if raw else None,
    )


def resource_types() -> tuple[str, ...]:
    """Every resource type the lexicon knows, in lexicon order."""
    return _resource_lexicon().types


def find_resources(text: str) -> list[str]:
    """Resource types named in an already-normalised, lower-cased text, sorted."""
    lexicon = _resource_lexicon()
    tokens = _WORD.findall(text)
    found = lexicon.terms.spans(tokens)
    kinds = set()
    if found:
        vetoes = lexicon.excludes.spans(tokens)
        for kind, spans in found.items():
            blocked = vetoes.get(kind, ())
            if any(not any(bs <= s and e <= be for bs, be in blocked) for s, e in spans):
                kinds.add(kind)
    if lexicon.patterns is not None:
        for match in lexicon.patterns.finditer(text):
            kinds.add(int(match.lastgroup[1:]))  # type: ignore[index]
    return sorted(lexicon.types[k] for k in kinds)


# ---------------------------------------------------------------- locations


@dataclass(frozen=True)
class Place:
    """One gazetteer row."""

    name: str
    kind: str
    country: str
    lat: float
    lon: float
    needs_context: bool

    @property
    def rank(self) -> int:
        return KIND_RANK.get(self.kind, 1)


@dataclass(frozen=True)
class _Alias:
    place: Place
    tokens: tuple[str, ...]  # lower-case, folded
    exact: tuple[str, ...] | None  # required original-case tokens, or None


@dataclass(frozen=True)
class _Gazetteer:
    by_first: dict[str, list[_Alias]]  # first token → aliases, longest first
    run_together: re.Pattern[str]  # compact names (≥ 6 letters) for lower-case hashtags
    compact: dict[str, _Alias]
    places: tuple[Place, ...]


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


@lru_cache(maxsize=1)
def _gazetteer() -> _Gazetteer:
    by_first: dict[str, list[_Alias]] = {}
    compact: dict[str, _Alias] = {}
    places = []
    with GAZETTEER_PATH.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            place = Place(
                name=row["name"],
                kind=row["kind"],
                country=row["country"],
                lat=float(row["lat"]),
                lon=float(row["lon"]),
                needs_context=row["flags"] == "ctx",
            )
            places.append(place)
            names = [row["name"], *filter(None, row["aliases"].split("|"))]
            for name in names:
                original = tuple(_tokens(_fold(name)))
                acronym = all(t.isupper() for t in original) and sum(map(len, original)) <= 2
                exact = original if row["flags"] == "case" or acronym else None
                alias = _Alias(place, tuple(t.lower() for t in original), exact)
                by_first.setdefault(alias.tokens[0], []).append(alias)
                key = "".join(alias.tokens)
                if exact is None and len(key) >= 6:
                    compact.setdefault(key, alias)
    for aliases in by_first.values():
        aliases.sort(key=lambda a: len(a.tokens), reverse=True)
    keys = sorted(compact, key=len, reverse=True)
    return _Gazetteer(
        by_first=by_first,
        run_together=re.compile("|".join(map(re.escape, keys))),
        compact=compact,
        places=tuple(places),
    )


def gazetteer_places() -> tuple[Place, ...]:
    """Every place in the shipped gazetteer."""
    return _gazetteer().places


def find_places(normalized_text: str, lower_hashtags: tuple[str, ...] = ()) -> list[Place]:
    """Places named in a normalised text (original case), in order of mention."""
    gazetteer = _gazetteer()
    original = _tokens(normalized_text)
    lowered = [t.lower() for t in original]
    found: list[Place] = []
    i = 0
    while i < len(lowered):
        step = 1
        for alias in gazetteer.by_first.get(lowered[i], ()):
            n = len(alias.tokens)
            if tuple(lowered[i : i + n]) != alias.tokens:
                continue
            if alias.exact is not None and tuple(original[i : i + n]) != alias.exact:
                continue
            if n == 1 and i > 0 and lowered[i - 1] == "new":  # New Britain is not Britain
                continue
            found.append(alias.place)
            step = n
            break
        i += step
    for tag in lower_hashtags:
        for match in gazetteer.run_together.finditer(tag):
            found.append(gazetteer.compact[match.group()].place)
    countries = {p.country for p in found if not p.needs_context}
    return [p for p in found if not p.needs_context or p.country in countries]


def _geo_point(post: dict[str, Any]) -> tuple[float, float, str | None] | None:
    """(lat, lon, name) from ``geo`` as {lat, lon, name?} or a GeoJSON Point; None if absent."""
    geo = post.get("geo")
    if not isinstance(geo, dict):
        return None
    if geo.get("type") == "Point" and isinstance(geo.get("coordinates"), (list, tuple)):
        coords = geo["coordinates"]
        lon, lat = (coords[0], coords[1]) if len(coords) >= 2 else (None, None)
    else:
        lat, lon = geo.get("lat"), geo.get("lon", geo.get("lng"))
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (lat, lon))
    if not numeric or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    name = geo.get("name")
    return float(lat), float(lon), name if isinstance(name, str) and name.strip() else None


@lru_cache(maxsize=1)
def _grid() -> dict[tuple[int, int], list[Place]]:
    """Gazetteer places bucketed by whole degrees, for nearest-place lookups."""
    grid: dict[tuple[int, int], list[Place]] = {}
    for place in _gazetteer().places:
        if place.rank >= KIND_RANK["island"]:  # name a point by a town, not a country
            grid.setdefault((math.floor(place.lat), math.floor(place.lon)), []).append(place)
    return grid


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, Earth radius 6371 km)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(a)))


def nearest_place(lat: float, lon: float, max_km: float = 50.0) -> Place | None:
    """The closest town-level gazetteer place within ``max_km`` of a point, if any."""
    grid = _grid()
    row, col = math.floor(lat), math.floor(lon)
    best, best_km = None, max_km
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            for place in grid.get((row + dr, col + dc), ()):
                km = distance_km(lat, lon, place.lat, place.lon)
                if km <= best_km:
                    best, best_km = place, km
    return best


def _best(places: list[Place]) -> Place | None:
    best: Place | None = None
    for place in places:  # first mention wins ties
        if best is None or place.rank > best.rank:
            best = place
    return best


def locate(post: dict[str, Any], normalized: _Normalized | None = None) -> dict[str, Any] | None:
    """The post's location: from ``geo``, else the most specific gazetteer place in its text."""
    text = post.get("text")
    if normalized is None and isinstance(text, str):
        normalized = _normalize(text)
    point = _geo_point(post)
    if point is not None:
        lat, lon, name = point
        if name is None:
            place = nearest_place(lat, lon)
            name = place.name if place is not None else None
        return {
            "name": name or f"{lat:.3f}, {lon:.3f}",
            "lat": lat,
            "lon": lon,
            "method": "geo",
        }
    if normalized is None:
        return None
    place = _best(find_places(normalized.text, normalized.lower_hashtags))
    if place is None:
        return None
    return {"name": place.name, "lat": place.lat, "lon": place.lon, "method": "gazetteer"}


def enrich(post: dict[str, Any]) -> dict[str, Any]:
    """``{"resources": [sorted resource types], "location": {name, lat, lon, method} | None}``."""
    text = post.get("text")
    if not isinstance(text, str) or not text:
        return {"resources": [], "location": locate(post)}
    normalized = _normalize(text)
    return {
        "resources": find_resources(normalized.text.lower()),
        "location": locate(post, normalized),
    }
