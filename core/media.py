"""Photos and videos members attach to drafts: checked before they are kept, kept before upload.

Owned by the publishing work (per-platform rules grow here); the front ends call
`MediaService.accept` with what the chat platform handed them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.drafts import Draft, DraftStore, MediaRef, require_author_or_admin
from core.errors import BadInput
from core.posts import Capabilities
from core.workspaces import Actor

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

    @property
    def store(self) -> MediaStore:
        return self._store

    async def accept_path(self, workspace_id: str, raw: str) -> MediaRef:
        return await accept_path(self, workspace_id, raw)

    async def accept(self, workspace_id: str, filename: str, mime_type: str, data: bytes) -> MediaRef:
        kind = classify(mime_type)
        check_size(kind, len(data), self.limits)
        stem = SAFE_NAME.sub("_", filename.rsplit(".", 1)[0])[:40] or kind
        name = f"{stem}{(PHOTO_TYPES | VIDEO_TYPES)[mime_type]}"
        duration = mp4_duration(bytes_reader(data), len(data)) if kind == "video" else None
        path = await self._store.save(workspace_id, name, data)
        return MediaRef(path=path, mime_type=mime_type, size=len(data), kind=kind, duration_sec=duration)


# --- Files given by path (console), per-platform checks, MP4 duration (publishing work) --------

EXTENSION_TYPES = {ext: mime for mime, ext in (PHOTO_TYPES | VIDEO_TYPES).items()} | {".jpeg": "image/jpeg"}


@runtime_checkable
class FileImporter(Protocol):
    async def import_file(self, workspace_id: str, name: str, source: Path) -> str:
        """Copy a local file into the store without reading it whole into memory; return its path."""
        ...


def guess_type(name: str) -> str:
    return EXTENSION_TYPES.get(Path(name).suffix.lower(), "")


def check_for_platform(media: MediaRef, caps: Capabilities) -> None:
    """Raise `BadInput` naming the platform's rule when `caps` rules `media` out."""
    if not (caps.photo if media.kind == "photo" else caps.video):
        raise BadInput(f"{caps.platform} does not take {media.kind}s; it takes {', '.join(caps.supports())}.")
    allowed = caps.photo_types if media.kind == "photo" else caps.video_types
    if allowed and media.mime_type not in allowed:
        raise BadInput(
            f"{caps.platform} does not take {media.mime_type} {media.kind}s; "
            f"use {', '.join(sorted(allowed))}."
        )
    limit = caps.max_photo_bytes if media.kind == "photo" else caps.max_video_bytes
    if limit and media.size > limit:
        raise BadInput(
            f"That {media.kind} is {media.size / MB:.1f} MB; "
            f"{caps.platform} takes at most {limit / MB:.0f} MB."
        )
    seconds = media.duration_sec
    if media.kind == "video" and caps.max_video_seconds and seconds and seconds > caps.max_video_seconds:
        raise BadInput(
            f"That video lasts {seconds:.0f} s; {caps.platform} takes at most {caps.max_video_seconds:.0f} s."
        )


def mp4_duration(read: Callable[[int, int], bytes], size: int) -> float | None:
    """Seconds from the `moov/mvhd` box of an MP4/MOV file, or None when it is not there.
    `read(offset, length)` lets a huge file be probed without loading it."""
    moov = _find_box(read, 0, size, b"moov")
    mvhd = _find_box(read, moov[0], moov[1], b"mvhd") if moov else None
    if mvhd is None:
        return None
    body = read(mvhd[0], 32)
    if len(body) < 20:
        return None
    if body[0] == 1:
        scale, duration = int.from_bytes(body[20:24]), int.from_bytes(body[24:32])
    else:
        scale, duration = int.from_bytes(body[12:16]), int.from_bytes(body[16:20])
    return duration / scale if scale else None


def _find_box(read: Callable[[int, int], bytes], start: int, end: int, kind: bytes) -> tuple[int, int] | None:
    """(body start, body end) of the first box of `kind` between start and end."""
    offset = start
    while offset + 8 <= end:
        header = read(offset, 16)
        length, name, skip = int.from_bytes(header[0:4]), header[4:8], 8
        if length == 1:
            length, skip = int.from_bytes(header[8:16]), 16
        elif length == 0:
            length = end - offset
        if length < skip:
            return None
        if name == kind:
            return offset + skip, min(offset + length, end)
        offset += length
    return None


def bytes_reader(data: bytes) -> Callable[[int, int], bytes]:
    return lambda offset, length: data[offset : offset + length]


def _local_file(raw: str) -> tuple[Path, int]:
    path = Path(raw).expanduser()
    if not path.is_file():
        raise BadInput(f"No file at {raw!r}.")
    return path, path.stat().st_size


def file_duration(path: Path, size: int) -> float | None:
    with path.open("rb") as handle:

        def read(offset: int, length: int) -> bytes:
            handle.seek(offset)
            return handle.read(length)

        return mp4_duration(read, size)


async def accept_path(service: MediaService, workspace_id: str, raw: str) -> MediaRef:
    """A file named by path (console only): checked like an upload, then copied into the store."""
    importer = service.store
    if not isinstance(importer, FileImporter):
        raise BadInput("This studio's media store cannot take files by path; send the file instead.")
    path, size = await asyncio.to_thread(_local_file, raw)
    mime = guess_type(path.name)
    kind = classify(mime)
    check_size(kind, size, service.limits)
    duration = await asyncio.to_thread(file_duration, path, size) if kind == "video" else None
    stored = await importer.import_file(workspace_id, path.name, path)
    return MediaRef(path=stored, mime_type=mime, size=size, kind=kind, duration_sec=duration)


def check_chat_download(size: int, limit_bytes: int, chat: str, hint: str = "") -> None:
    """Before a front end downloads an attachment: a clear message when the chat platform will
    not hand the bot a file that big (Telegram bots: 20 MB without a local Bot API server)."""
    if size > limit_bytes:
        raise BadInput(
            f"That file is {size / MB:.1f} MB; {chat} lets bots download at most {limit_bytes / MB:.0f} MB."
            + (f" {hint}" if hint else "")
        )


def check_upload(limits: MediaLimits, mime_type: str, size: int) -> str:
    """Refuse a file by its announced type and size BEFORE a front end downloads it; returns
    the media kind ("photo"/"video")."""
    kind = classify(mime_type)
    check_size(kind, size, limits)
    return kind


@dataclass(frozen=True)
class DraftMedia:
    """Attaching files to drafts, with the rule in the core so every front end shares it:
    members attach to their own drafts, admins to any; the draft is looked up inside the
    caller's workspace only, so another workspace's draft is simply not found."""

    drafts: DraftStore
    media: MediaService

    async def attach_upload(self, workspace_id: str, actor: Actor, draft_id: str, upload: Upload) -> Draft:
        """A file as a chat platform handed it over."""
        draft = await self._own_draft(workspace_id, actor, draft_id)
        media = await self.media.accept(workspace_id, upload.filename, upload.mime_type, upload.data)
        return await self.drafts.attach_media(workspace_id, draft.id, media)

    async def attach_path(
        self, workspace_id: str, actor: Actor, draft_id: str, raw: str
    ) -> tuple[Draft, MediaRef]:
        """A file named by path (the console)."""
        draft = await self._own_draft(workspace_id, actor, draft_id)
        media = await self.media.accept_path(workspace_id, raw)
        return await self.drafts.attach_media(workspace_id, draft.id, media), media

    async def _own_draft(self, workspace_id: str, actor: Actor, draft_id: str) -> Draft:
        draft = await self.drafts.get(workspace_id, draft_id.strip().lower())
        require_author_or_admin(draft, actor, "attach files to it")
        return draft


@dataclass(frozen=True)
class Upload:
    """A file as a chat platform handed it over."""

    filename: str
    mime_type: str
    data: bytes
