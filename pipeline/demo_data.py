"""Synthetic crisis posts for `triage demo`: written for this project, no real users or tweets.

A fictional storm ("Hurricane Delia") over real places, so location enrichment has something to
find. Posts of all four kinds (requests, offers, emotional support, other) are made from
hand-written templates and fillers, shuffled with a fixed seed: the same ``n`` and ``seed``
always give the same posts.

Like a real disaster stream, about one post in eight is in Spanish, French or Haitian Creole
(half of them without a ``lang`` field, so the job identifies it; Haitian Creole, which no model
reads, is tagged ``ht`` and lands in review with the reason), and about one in six is a retweet
or light edit of one of three pleas (retweet storms the dashboard collapses into one card ×N).
``python -m pipeline.demo_data > pipeline/demo_posts.jsonl`` writes the shipped sample.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

EVENT = "hurricane_delia_demo"
PLACES: dict[str, tuple[float, float]] = {
    "San Juan": (18.466, -66.106),
    "Ponce": (18.011, -66.614),
    "Mayagüez": (18.201, -67.140),
    "Arecibo": (18.472, -66.716),
    "Caguas": (18.234, -66.035),
    "Utuado": (18.266, -66.701),
    "Juana Díaz": (18.053, -66.507),
    "Houston": (29.760, -95.370),
    "Beaumont": (30.080, -94.100),
    "Port Arthur": (29.900, -93.930),
}
NEEDS = [
    "drinking water",
    "baby formula",
    "insulin",
    "a generator",
    "diapers",
    "canned food",
    "tarps for the roof",
    "oxygen tanks",
    "blankets",
    "dialysis transport",
    "batteries and flashlights",
    "a wheelchair",
]
WHO = [
    "my grandmother",
    "my elderly neighbors",
    "a family with three kids",
    "my dad, who is on dialysis,",
    "twenty people at the church",
    "my sister and her newborn",
    "the nursing home staff",
    "a pregnant woman",
]
ORGS = [
    "Our church",
    "The Rotary club",
    "Our restaurant",
    "The university volunteers",
    "Our food bank",
    "The fire station",
    "My team at work",
    "The community center",
]

REQUESTS = [
    "URGENT: {who} in {place} need {need}. Roads are blocked, nobody has come. Please RT #Delia",
    "Still no help in {place}. We need {need} and {need2} ASAP #HurricaneDelia #SOS",
    "Can anyone get {need} to {who} near {place}? Phone lines are down, we are on the 2nd floor",
    "Water is rising on our street in {place}. {who} can't get out. Need a boat please!!",
    "Please help, {who} in {place} ran out of {need} two days ago #DeliaRelief",
    "Does anyone know where to get {need} in {place}? Stores are closed and we're desperate",
    "Trapped on the roof with {who} in {place}. Need rescue. Sending this while battery lasts",
    "{place} shelter is out of {need}. They need {need2} too. Please send what you can",
    "We need volunteers with chainsaws in {place}, trees blocking the only road out #Delia",
    "Looking for {need} for {who} — we are in {place}, any help appreciated 🙏",
    "SOS {place}: no power, no water, {who} needs {need} today. @FEMA please",
    "Our neighborhood in {place} hasn't seen any aid. Need {need} and medical help",
    "Anyone with a truck near {place}? Need to move {who} to the hospital",
    "Help needed in {place}: {who} without {need}. Please call 911 if you can get through",
]
OFFERS = [
    "{org} in {place} is handing out {need} and hot meals until 6pm. Come by! #DeliaRelief",
    "I have a truck and free time, can drive supplies anywhere around {place}. DM me",
    "Free {need} at the {place} community center tomorrow 9am, bring ID if you have it",
    "{org} collected 300 cases of {need} for {place}. Shipping them out tonight",
    "Offering a spare room in {place} for anyone displaced by Delia, pets welcome",
    "We have extra {need} and {need2}. Can deliver in {place} area, just reply",
    "Nurse here, volunteering at the {place} shelter this weekend. Can check on anyone",
    "{org} is open as a cooling and charging station in {place}. Water and wifi available",
    "Donate {need} at any fire station in {place}, they will go straight to families #Delia",
    "Volunteers: {org} needs hands sorting donations in {place} Saturday. Sign up at the door",
    "Got a generator and fuel to share in {place}. Can power medical devices for a few hours",
    "{org} is sending a boat team to {place} to help with rescues this afternoon",
    "Pharmacy on Main St in {place} is filling emergency prescriptions for free today",
    "Free rides to the {place} distribution site all day, just message me",
]
SUPPORT = [
    "Praying for everyone in {place} tonight. Stay strong 🙏 #HurricaneDelia",
    "My heart breaks seeing the pictures from {place}. Sending love to all the families",
    "To everyone in {place}: you are not alone. We are thinking of you",
    "Can't stop crying watching the news from {place}. Hold on, help is coming ❤️",
    "Thoughts and prayers for {place} and everyone affected by Delia",
    "Sending strength to our friends in {place}. We will rebuild together",
    "Just heard from my cousin in {place}, they are safe. Praying for those still missing",
    "So proud of how {place} is coming together. Love you all, stay safe",
    "Heartbroken for {place}. If you lost someone, I am so sorry 💔",
    "Keeping {place} in my prayers tonight. Hug your loved ones",
    "Stay strong {place}, the whole island is with you #DeliaStrong",
]
OTHER = [
    "Hurricane Delia makes landfall near {place} as a category 4 storm, officials say",
    "Power company says 80% of customers in {place} are without electricity after Delia",
    "Delia damage estimates for {place} climb past $2 billion, according to early reports",
    "Curfew in {place} extended through Friday as cleanup continues",
    "Watching the Delia coverage, wild footage from {place}",
    "Airport in {place} reopens for commercial flights on Thursday",
    "Why do they always name hurricanes after people? Delia sounds so calm lol",
    "Governor to tour {place} tomorrow to assess storm damage",
    "Stock in generator companies up after Delia hits {place}",
    "Schools in {place} closed until further notice, district says",
    "The wind in {place} last night was unreal. Never heard anything like it",
    "Traffic lights are still out all over {place}, drive carefully",
    "Delia now weakening as it moves north of {place}, forecasters say",
    "Anyone else's phone keep buzzing with alerts? Been a long week in {place}",
]
NEEDS_ES = ["agua potable", "comida", "medicinas", "pañales", "baterías", "leche de bebé"]
NEEDS_FR = ["eau potable", "nourriture", "médicaments", "couches", "piles", "lait pour bébé"]
KINDS: list[tuple[str, list[str]]] = [
    ("request", REQUESTS),
    ("offer", OFFERS),
    ("emotional_support", SUPPORT),
    ("other", OTHER),
]
# Posts in other languages, by kind and language.
FOREIGN: dict[str, dict[str, list[str]]] = {
    "request": {
        "es": [
            "Necesitamos {need_es} en {place}. Por favor compartan #HuracanDelia",
            "Urgente: mi abuela en {place} necesita {need_es}, las carreteras están cerradas",
            "¿Alguien puede llevar {need_es} a {place}? Llevamos dos días sin ayuda",
        ],
        "fr": [
            "Nous avons besoin de {need_fr} à {place}, personne n'est venu. Partagez svp",
            "Urgent : ma grand-mère à {place} a besoin de {need_fr}, les routes sont coupées",
        ],
        "ht": ["Nou bezwen dlo ak manje nan {place}, tanpri ede nou. Timoun yo grangou"],
    },
    "offer": {
        "es": [
            "Ofrecemos {need_es} gratis en {place}. Pasen por la plaza mañana",
            "Tenemos un camión y voluntarios para repartir {need_es} en {place}, escríbannos",
        ],
        "fr": ["Nous distribuons {need_fr} gratuitement à {place} demain matin, venez nombreux"],
    },
    "emotional_support": {
        "es": [
            "Fuerza {place}! Estamos con ustedes 💪🇵🇷",
            "Oramos por todas las familias de {place}",
        ],
        "fr": ["Toutes nos pensées vont aux familles de {place}. Courage à tous ❤️"],
    },
}
FOREIGN_SHARE = 0.16
STORM_SHARE = 0.17
STORM_SOURCES = 3
RETWEETERS = ["maria_pr", "delia_watch", "cruzroja_pr", "boricua4ever", "abuela_help", "pr_news"]
EDITS = ["", "", " #SOS", " please share", " 🙏", " !!", " RT please"]


def _text(rng: random.Random, kind: str, templates: list[str]) -> tuple[str, str]:
    """(text, language) of one post of ``kind``: English, or now and then another language."""
    lang, pool = "en", templates
    if kind in FOREIGN and rng.random() < FOREIGN_SHARE:
        lang = rng.choice(sorted(FOREIGN[kind]))
        pool = FOREIGN[kind][lang]
    place = rng.choice(list(PLACES))
    need, need2 = rng.sample(NEEDS, 2)
    text = rng.choice(pool).format(
        place=place,
        need=need,
        need2=need2,
        need_es=rng.choice(NEEDS_ES),
        need_fr=rng.choice(NEEDS_FR),
        who=rng.choice(WHO),
        org=rng.choice(ORGS),
    )
    return text[0].upper() + text[1:], lang


def _retweet(rng: random.Random, source: dict[str, Any]) -> str:
    """A retweet or light edit of ``source``'s text."""
    text = source["text"] + rng.choice(EDITS)
    return f"RT @{rng.choice(RETWEETERS)}: {text}" if rng.random() < 0.7 else text


def generate_posts(
    n: int = 200, seed: int = 7, start: datetime | None = None
) -> list[dict[str, Any]]:
    """``n`` synthetic posts (about a quarter of each kind), in a shuffled order.

    ``created_at`` spreads the posts over the hours after ``start`` (default: now); about a
    third carry a ``geo`` point near their place. Some are in other languages and some are
    copies of a few pleas (see module docstring). The intended kind is not part of the post.
    """
    rng = random.Random(seed)
    start = start or datetime.now(timezone.utc).replace(microsecond=0)
    posts: list[dict[str, Any]] = []
    storm_sources: list[dict[str, Any]] = []
    for i in range(n):
        kind, templates = KINDS[i % len(KINDS)]
        created = (start + timedelta(seconds=37 * i)).isoformat().replace("+00:00", "Z")
        post: dict[str, Any] = {"id": f"demo-{seed}-{i:05d}"}
        if storm_sources and rng.random() < STORM_SHARE:
            source = rng.choice(storm_sources)
            post.update(text=_retweet(rng, source), created_at=created)
            if "lang" in source:
                post["lang"] = source["lang"]
        else:
            text, lang = _text(rng, kind, templates)
            post.update(text=text, created_at=created)
            if lang in ("en", "ht") or rng.random() < 0.5:  # others: identified by the job
                post["lang"] = lang
            if kind == "request" and lang == "en" and len(storm_sources) < STORM_SOURCES:
                storm_sources.append(post)
        post.update(event=EVENT, source="demo")
        if rng.random() < 0.35:
            place = next((p for p in PLACES if p in post["text"]), rng.choice(list(PLACES)))
            lat, lon = PLACES[place]
            post["geo"] = {
                "lat": round(lat + rng.uniform(-0.02, 0.02), 4),
                "lon": round(lon + rng.uniform(-0.02, 0.02), 4),
                "name": place,
            }
        posts.append(post)
    rng.shuffle(posts)
    return posts


def main() -> None:
    """Print the demo sample as JSON Lines."""
    fixed_start = datetime(2026, 9, 20, 6, 0, tzinfo=timezone.utc)
    for post in generate_posts(200, start=fixed_start):
        sys.stdout.write(json.dumps(post, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
