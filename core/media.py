"""Photos and videos members attach to drafts: checked before they are kept, kept before upload.

Owned by the publishing work (per-platform rules grow here); the front ends call
`MediaService.accept` with what the chat platform handed them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from core.drafts import Draft, MediaRef
from core.errors import BadInput, Forbidden
from core.workspaces import Actor

if TYPE_CHECKING:
    from core.services import Services

MB = 1024 * 1024
PHOTO_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp"}
VIDEO_TYPES = {"video/mp4": ".mp4", "video/quicktime": ".mov", "video/webm": ".webm"}
SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class MediaLimits:
    max_photo_bytes: int = 20 * MB
    max_video_bytes: int = 1024 * MB


class MediaStore(Protocol):
    async def save(self, workspace_id: str, name: str, data: bytes) -> str:
        """Keep the bytes; return the stored file's path."""
        ...


def classify(mime_type: str) -> str:
    if mime_type in PHOTO_TYPES:
        return "photo"
    if mime_type in VIDEO_TYPES:
        return "video"
    accepted = ", ".join(sorted(PHOTO_TYPES | VIDEO_TYPES))
    raise BadInput(f"Files of type {mime_type or 'unknown'} cannot be posted; send one of: {accepted}.")


def check_size(kind: str, size: int, limits: MediaLimits) -> None:
    limit = limits.max_photo_bytes if kind == "photo" else limits.max_video_bytes
    if size <= 0:
        raise BadInput("That file is empty.")
    if size > limit:
        raise BadInput(
            f"That {kind} is {size / MB:.1f} MB; the most the studio accepts is {limit / MB:.0f} MB."
        )


class MediaService:
    def __init__(self, store: MediaStore, limits: MediaLimits) -> None:
        self._store = store
        self.limits = limits

    async def accept(self, workspace_id: str, filename: str, mime_type: str, data: bytes) -> MediaRef:
        kind = classify(mime_type)
        check_size(kind, len(data), self.limits)
        stem = SAFE_NAME.sub("_", filename.rsplit(".", 1)[0])[:40] or kind
        name = f"{stem}{(PHOTO_TYPES | VIDEO_TYPES)[mime_type]}"
        path = await self._store.save(workspace_id, name, data)
        return MediaRef(path=path, mime_type=mime_type, size=len(data), kind=kind)


def check_upload(limits: MediaLimits, mime_type: str, size: int) -> str:
    """Refuse a file by its announced type and size BEFORE a front end downloads it; returns
    the media kind ("photo"/"video")."""
    kind = classify(mime_type)
    check_size(kind, size, limits)
    return kind


async def attach_to_draft(
    services: Services,
    workspace_id: str,
    actor: Actor,
    draft_id: str,
    upload: Upload,
) -> Draft:
    """Keep a chat upload and attach it to a draft of the caller's workspace.

    Members may attach to their own drafts, admins to any; the draft is looked up inside
    `workspace_id` only, so another workspace's draft is simply not found."""
    draft = await services.drafts.get(workspace_id, draft_id)
    if draft.author_id != actor.user_id and not actor.is_admin:
        raise Forbidden(
            f"Draft {draft.id} was written by someone else; only its author or an admin can change it."
        )
    media = await services.media.accept(workspace_id, upload.filename, upload.mime_type, upload.data)
    return await services.drafts.attach_media(workspace_id, draft.id, media)


@dataclass(frozen=True)
class Upload:
    """A file as a chat platform handed it over."""

    filename: str
    mime_type: str
    data: bytes
