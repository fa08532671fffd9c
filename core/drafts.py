"""Drafts: generated (or edited) text waiting to be published. Owned by the generation work;
this module fixes the contract publishing, scheduling and the front ends rely on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class MediaRef:
    """A photo or video kept by the media store (under DATA_DIR), attached to a draft."""

    path: str
    mime_type: str
    size: int
    kind: str  # "photo" or "video"
    duration_sec: float | None = None  # videos, when the container says (MP4/MOV)


@dataclass
class Draft:
    id: str  # short, usable in commands and in 64-byte button data
    workspace_id: str
    author_id: str
    kind: str
    text: str
    platform: str = ""
    media: list[MediaRef] = field(default_factory=list)


class DraftStore(Protocol):
    async def save(self, draft: Draft) -> None: ...

    async def get(self, workspace_id: str, draft_id: str) -> Draft:
        """The draft, or `NotFound` (also when it belongs to another workspace)."""
        ...

    async def attach_media(self, workspace_id: str, draft_id: str, media: MediaRef) -> Draft: ...
