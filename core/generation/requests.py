"""Turn what people type after /generate into a `ContentRequest`, with sensible defaults:
'/generate a post about our spring sale', '/generate caption about our oat latte for facebook',
'/generate tiktok script about latte art --tone playful', '/generate shorten k3m9qa'."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from core.errors import BadInput
from core.generation.prompts import KINDS, LENGTHS, PLATFORM_ALIASES, PLATFORMS, TRANSFORMS, ContentRequest

MAX_TOPIC = 2000
MAX_OPTION = 200
FILLERS = {"a", "an", "the", "some", "me", "us", "new", "short", "quick"}
PHRASES: dict[str, str] = {
    "post": "post", "posts": "post", "social post": "post", "social media post": "post",
    "update": "post", "announcement": "post",
    "caption": "caption", "captions": "caption", "photo caption": "caption",
    "tiktok": "tiktok", "script": "tiktok", "video script": "tiktok", "tiktok script": "tiktok",
    "video": "tiktok", "reel": "tiktok",
    "thread": "thread", "threads": "thread",
    "outline": "outline", "article outline": "outline", "blog outline": "outline",
    "article": "article", "full article": "article", "blog": "article", "blog post": "article",
    "blog article": "article",
    "hashtags": "hashtags", "hashtag": "hashtags", "hashtag set": "hashtags",
    "rewrite": "rewrite", "shorten": "shorten", "translate": "translate", "translation": "translate",
}  # fmt: skip
ACCEPTED_OPTIONS = ("--kind", "--platform", "--tone", "--audience", "--language", "--length", "--cta",
                    "--emoji", "--no-emoji")  # fmt: skip
UNKNOWN_OPTION = re.compile(r"(?:^|\s)(--[A-Za-z][\w-]*)")


@dataclass(frozen=True)
class Parsed:
    kind: str
    topic: str
    platform: str


def kinds_help() -> str:
    return ", ".join(KINDS)


def platform_name(value: str) -> str:
    key = value.strip().lower()
    key = PLATFORM_ALIASES.get(key, key)
    if key not in PLATFORMS:
        raise BadInput(f"Unknown platform {value!r}. Platforms: {', '.join(PLATFORMS)}.")
    return key


def kind_name(value: str) -> str:
    key = PHRASES.get(value.strip().lower())
    if key is None:
        raise BadInput(f"Unknown kind {value!r}. Kinds: {kinds_help()}.")
    return key


def parse_text(text: str, kind: str | None) -> Parsed:
    """Split the free text into kind, topic and a trailing 'for <platform>'."""
    _reject_unknown_options(text)
    topic, platform = _trailing_platform(text.strip())
    if kind is not None:
        return Parsed(kind_name(kind), topic, platform)
    found, platform_word, rest = _leading_kind(topic)
    return Parsed(found, rest, platform or platform_word)


def _reject_unknown_options(text: str) -> None:
    match = UNKNOWN_OPTION.search(text)
    if match:
        raise BadInput(f"Unknown option {match.group(1)}. Options: {', '.join(ACCEPTED_OPTIONS)}.")


def _trailing_platform(text: str) -> tuple[str, str]:
    match = re.search(r"\s+(?:for|on|to)\s+([A-Za-z_-]+)[.!]?$", text)
    if match:
        word = PLATFORM_ALIASES.get(match.group(1).lower(), match.group(1).lower())
        if word in PLATFORMS:
            return text[: match.start()].rstrip(), word
    return text, ""


def _leading_kind(text: str) -> tuple[str, str, str]:
    """'a facebook post about X' → ('post', 'facebook', 'X'); 'X' → ('post', '', 'X')."""
    words = text.split()
    lowered = [w.lower().strip(",.:;!") for w in words]
    for index, word in enumerate(lowered[:6]):
        if word in ("about", "on", "for", "of") and index > 0:
            kind, platform = _phrase_kind(lowered[:index])
            if kind:
                return kind, platform, " ".join(words[index + 1 :])
            if word == "about":
                phrase = " ".join(words[:index])
                raise BadInput(f"Unknown kind {phrase!r}. Kinds: {kinds_help()}.")
            break
    if lowered and lowered[0] in PHRASES and len(words) > 1:
        return PHRASES[lowered[0]], "", " ".join(words[1:])
    return "post", "", text


def _phrase_kind(words: list[str]) -> tuple[str, str]:
    platform = ""
    kept = []
    for word in words:
        name = PLATFORM_ALIASES.get(word, word)
        if name in PLATFORMS and not platform:
            platform = name
        elif word not in FILLERS:
            kept.append(word)
    phrase = " ".join(kept)
    if not phrase:
        return ("tiktok" if platform == "tiktok" else "post" if platform else ""), platform
    return PHRASES.get(phrase, ""), platform


def check_topic(topic: str, kind: str) -> str:
    cleaned = topic.strip()
    if not cleaned:
        what = "the text or draft id to work on" if kind in TRANSFORMS else "what it is about"
        raise BadInput(f"Say {what}, e.g. /generate {kind} about our spring sale. Kinds: {kinds_help()}.")
    if len(cleaned) > MAX_TOPIC:
        raise BadInput(f"The topic is {len(cleaned)} characters; at most {MAX_TOPIC}. Shorten it.")
    return cleaned


def check_options(options: Mapping[str, str | None]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for name, value in options.items():
        if value is None:
            continue
        if len(value) > MAX_OPTION:
            raise BadInput(f"--{name} is {len(value)} characters; at most {MAX_OPTION}.")
        checked[name] = value.strip()
    length = checked.get("length")
    if length is not None and length.lower() not in LENGTHS:
        raise BadInput(f"Unknown length {length!r}. Lengths: {', '.join(LENGTHS)}.")
    if "platform" in checked:
        checked["platform"] = platform_name(checked["platform"])
    return checked


def build_request(
    parsed: Parsed, options: Mapping[str, str], emoji: bool | None, source: str
) -> ContentRequest:
    if parsed.kind == "translate" and not options.get("language"):
        raise BadInput(
            "Say which language to translate into, e.g. /generate translate k3m9qa --language Spanish."
        )
    return ContentRequest(
        kind=parsed.kind,
        topic=parsed.topic,
        platform=options.get("platform") or parsed.platform or ("tiktok" if parsed.kind == "tiktok" else ""),
        tone=options.get("tone", ""),
        audience=options.get("audience", ""),
        language=options.get("language", ""),
        length=options.get("length", "medium").lower(),
        cta=options.get("cta", ""),
        emoji=emoji,
        source_text=source,
    )
