"""Turn what a person types ("person with a package at the front door last week")
into an FTS5 match plus a time window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_STOP = "a an the at on in of to for from by with and or near around into onto my our me " \
        "show find any some was were is are who what when where there someone something"
STOPWORDS = frozenset(_STOP.split(" "))

# A word people use -> words that appear in events.
SYNONYMS: dict[str, tuple[str, ...]] = {
    "package": ("package", "delivery", "parcel", "courier"),
    "parcel": ("parcel", "delivery", "package"),
    "delivery": ("delivery", "package", "courier"),
    "courier": ("courier", "delivery"),
    "people": ("person", "people"),
    "man": ("person",), "woman": ("person",), "men": ("person",), "women": ("person",),
    "somebody": ("person",), "intruder": ("intrusion", "person"),
    "vehicle": ("car", "truck", "bus", "motorcycle", "vehicle"),
    "animal": ("animal", "dog", "cat"), "pet": ("dog", "cat", "animal"),
    "loiterer": ("loitering",), "loitering": ("loitering",), "lingering": ("loitering",),
}


@dataclass(frozen=True)
class ParsedSearch:
    match: str | None
    fallback: str | None  # OR of the terms, when the strict match finds nothing
    since: float | None
    until: float | None


def _window(text: str, now: datetime) -> tuple[str, float | None, float | None]:
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    rules: list[tuple[str, datetime, datetime]] = [
        (r"\blast night\b", day - timedelta(hours=6), day + timedelta(hours=6)),
        (r"\byesterday\b", day - timedelta(days=1), day),
        (r"\btoday\b", day, now),
        (r"\btonight\b", day + timedelta(hours=18), now),
        (r"\bthis week\b", day - timedelta(days=day.weekday()), now),
        (r"\b(?:last|past) week\b", now - timedelta(days=7), now),
        (r"\b(?:last|past) month\b", now - timedelta(days=30), now),
        (r"\bthis month\b", day.replace(day=1), now),
    ]
    for pattern, start, end in rules:
        if re.search(pattern, text):
            return re.sub(pattern, " ", text), start.timestamp(), end.timestamp()
    m = re.search(r"\b(?:last|past)\s+(\d+)\s*(hour|hours|day|days|week|weeks)\b", text)
    if m:
        n = int(m.group(1))
        unit = m.group(2).rstrip("s")
        delta = {"hour": timedelta(hours=n), "day": timedelta(days=n),
                 "week": timedelta(weeks=n)}[unit]
        return text.replace(m.group(0), " "), (now - delta).timestamp(), now.timestamp()
    return text, None, None


def parse_search(text: str, now: float, tz: ZoneInfo | None = None) -> ParsedSearch:
    local = datetime.fromtimestamp(now, tz)
    text = text.lower()
    text, since, until = _window(text, local)
    words = [w for w in re.findall(r"[a-z0-9]+", text) if w not in STOPWORDS]
    groups = []
    for w in dict.fromkeys(words):
        alts = SYNONYMS.get(w, (w,))
        groups.append("(" + " OR ".join(f'"{a}"*' for a in alts) + ")")
    if not groups:
        return ParsedSearch(None, None, since, until)
    strict = " AND ".join(groups)
    loose = " OR ".join(groups) if len(groups) > 1 else None
    return ParsedSearch(strict, loose, since, until)
