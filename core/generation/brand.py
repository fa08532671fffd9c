"""A workspace's brand voice and AI choice: used by every prompt, changed by admins with /brand
and /ai."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Protocol

from core.errors import BadInput
from core.recent import Recent

MAX_DESCRIPTION = 1000
MAX_WORDS = 30
MAX_WORD = 40
MAX_SAMPLES = 5
MAX_SAMPLE = 2000
MAX_LANGUAGE = 40
HASHTAG = re.compile(r"^#?[^\W_][\w]{0,99}$")
BRAND_FIELDS = ("description", "do", "dont", "sample", "hashtags", "language")


@dataclass(frozen=True)
class BrandVoice:
    description: str = ""
    do_words: tuple[str, ...] = ()
    dont_words: tuple[str, ...] = ()
    samples: tuple[str, ...] = ()
    hashtags: tuple[str, ...] = ()
    language: str = ""

    def is_empty(self) -> bool:
        return self == BrandVoice()

    def as_data(self) -> dict[str, object]:
        """Only what is set, as plain data for the prompt's user message."""
        data: dict[str, object] = {
            "description": self.description,
            "words_to_use": list(self.do_words),
            "words_to_avoid": list(self.dont_words),
            "sample_posts": list(self.samples),
            "default_hashtags": list(self.hashtags),
            "language": self.language,
        }
        return {k: v for k, v in data.items() if v}


@dataclass(frozen=True)
class Profile:
    """Per-workspace generation settings: the voice and an admin's provider/model override."""

    brand: BrandVoice = field(default_factory=BrandVoice)
    provider: str = ""
    model: str = ""


class ProfileStore(Protocol):
    async def load(self, workspace_id: str) -> Profile: ...

    async def save(self, workspace_id: str, profile: Profile) -> None: ...


class RecentProfiles:
    """A `ProfileStore` that keeps each loaded profile for a few seconds: every generation
    loads it, and a burst of /generate in one chat need not read it each time."""

    def __init__(self, store: ProfileStore, recent: Recent[str, Profile] | None = None) -> None:
        self._store = store
        self._recent: Recent[str, Profile] = recent or Recent()

    async def load(self, workspace_id: str) -> Profile:
        profile = self._recent.get(workspace_id)
        if profile is None:
            profile = await self._store.load(workspace_id)
            self._recent.put(workspace_id, profile)
        return profile

    async def save(self, workspace_id: str, profile: Profile) -> None:
        self._recent.forget(workspace_id)  # a failed save must not leave the new one looking stored
        await self._store.save(workspace_id, profile)
        self._recent.put(workspace_id, profile)


def change_brand(brand: BrandVoice, name: str, value: str, *, clear: bool = False) -> BrandVoice:
    """Return `brand` with one field set (a sample is added) or cleared; validate the value."""
    key = name.strip().lower().replace("_", "").replace("'", "").replace("-", "")
    key = {"samples": "sample", "hashtag": "hashtags", "donts": "dont", "dos": "do"}.get(key, key)
    if key not in BRAND_FIELDS:
        raise BadInput(f"Unknown brand field {name!r}. Fields: {', '.join(BRAND_FIELDS)}.")
    if clear:
        return _cleared(brand, key)
    if not value.strip():
        raise BadInput(f"Give a value for {key}, or use --clear to remove it.")
    return _set(brand, key, value.strip())


def _cleared(brand: BrandVoice, key: str) -> BrandVoice:
    attr = {"do": "do_words", "dont": "dont_words", "sample": "samples"}.get(key, key)
    return replace(brand, **{attr: getattr(BrandVoice(), attr)})


def _set(brand: BrandVoice, key: str, value: str) -> BrandVoice:
    if key == "description":
        return replace(brand, description=_bounded(value, MAX_DESCRIPTION, "The description"))
    if key == "language":
        return replace(brand, language=_bounded(value, MAX_LANGUAGE, "The language"))
    if key == "sample":
        if len(brand.samples) >= MAX_SAMPLES:
            raise BadInput(f"At most {MAX_SAMPLES} sample posts; /brand sample --clear removes them.")
        return replace(brand, samples=(*brand.samples, _bounded(value, MAX_SAMPLE, "A sample post")))
    if key == "hashtags":
        return replace(brand, hashtags=parse_hashtags(value))
    words = parse_words(value)
    return replace(brand, do_words=words) if key == "do" else replace(brand, dont_words=words)


def _bounded(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise BadInput(f"{what} is {len(value)} characters; at most {limit}.")
    return value


def parse_words(value: str) -> tuple[str, ...]:
    words = tuple(w.strip() for w in value.split(",") if w.strip())
    if len(words) > MAX_WORDS or any(len(w) > MAX_WORD for w in words):
        raise BadInput(f"Give at most {MAX_WORDS} comma-separated words or phrases of {MAX_WORD} characters.")
    return words


def parse_hashtags(value: str) -> tuple[str, ...]:
    tags = [t for t in re.split(r"[\s,]+", value) if t]
    bad = [t for t in tags if not HASHTAG.match(t)]
    if bad or len(tags) > MAX_WORDS:
        raise BadInput(
            f"Hashtags are words of letters, digits or _ (e.g. #oatlatte #coffee), at most {MAX_WORDS}; "
            f"not accepted: {' '.join(bad) or 'too many'}."
        )
    return tuple("#" + t.lstrip("#") for t in tags)


def describe_brand(brand: BrandVoice) -> str:
    if brand.is_empty():
        return "No brand voice is set yet. Admins set it with /brand <field> <value>; fields: " + ", ".join(
            BRAND_FIELDS
        )
    lines = ["Brand voice (used by every generation):"]
    lines.append(f"description: {brand.description or '-'}")
    lines.append(f"do (words to use): {', '.join(brand.do_words) or '-'}")
    lines.append(f"dont (words to avoid): {', '.join(brand.dont_words) or '-'}")
    lines.append(f"hashtags: {' '.join(brand.hashtags) or '-'}")
    lines.append(f"language: {brand.language or '-'}")
    lines += [f"sample {i}: {s}" for i, s in enumerate(brand.samples, 1)] or ["samples: -"]
    return "\n".join(lines)
