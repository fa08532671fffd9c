"""Drafts: generated (or edited) text waiting to be published. Owned by the generation work;
this module fixes the contract publishing, scheduling and the front ends rely on."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from core.errors import BadInput, Forbidden, NotFound
from core.workspaces import Actor, Workspace

# Short ids: 6 characters of an alphabet without look-alikes (no 0/o, 1/l/i), so an id can be
# read aloud or typed from a phone and fits in 64-byte button data with room to spare.
ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 6
ID_PATTERN = re.compile(r"^[a-z0-9]{3,16}$")


def check_draft_id(value: str) -> str:
    candidate = value.strip().lower()
    if not ID_PATTERN.match(candidate):
        raise BadInput(f"{value!r} is not a draft id (ids look like 'k3m9qa'). Send /drafts to see yours.")
    return candidate


def require_author_or_admin(draft: Draft, actor: Actor, what: str) -> None:
    """The one rule for changing a draft (editing its text, attaching media, discarding it),
    enforced by the core services so every front end gets it."""
    if draft.author_id != actor.user_id and not actor.is_admin:
        raise Forbidden(
            f"Draft {draft.id} was written by someone else; only its author or an admin can {what}."
        )


@dataclass(frozen=True)
class MediaRef:
    """A photo or video kept by the media store (under DATA_DIR), attached to a draft."""

    path: str
    mime_type: str
    size: int
    kind: str  # "photo" or "video"
    duration_sec: float | None = None  # videos, when the container says (MP4/MOV)


@dataclass(frozen=True)
class DraftVersion:
    """An earlier text of a draft, kept when it is regenerated or edited."""

    text: str
    source: str  # "generated", "regenerated", "edited"
    model: str = ""
    created_at: str = ""  # ISO 8601, UTC
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0


@dataclass
class Draft:
    id: str  # short, usable in commands and in 64-byte button data
    workspace_id: str
    author_id: str
    kind: str
    text: str
    platform: str = ""
    media: list[MediaRef] = field(default_factory=list)
    # Added by the generation work (all optional, so older stored drafts still load):
    request: str = ""  # the topic or instruction as typed
    options: dict[str, str] = field(default_factory=dict)  # tone, audience, language, length...
    provider: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0  # estimated, in USD, of the current text
    created_at: str = ""  # ISO 8601, UTC
    updated_at: str = ""
    source: str = "generated"  # how the current text came to be: generated/regenerated/edited
    versions: list[DraftVersion] = field(default_factory=list)  # earlier texts, oldest first
    parent_id: str = ""  # set on a variant: the draft it is a variant of
    warning: str = ""  # e.g. still over the platform limit after one shorter retry

    @property
    def version(self) -> int:
        return len(self.versions) + 1

    def snapshot(self) -> DraftVersion:
        return DraftVersion(
            self.text,
            self.source,
            self.model,
            self.updated_at or self.created_at,
            self.input_tokens,
            self.output_tokens,
            self.cost,
        )


@dataclass(frozen=True)
class DraftPage:
    drafts: list[Draft]
    total: int
    offset: int


class DraftStore(Protocol):
    async def save(self, draft: Draft) -> None: ...

    async def get(self, workspace_id: str, draft_id: str) -> Draft:
        """The draft, or `NotFound` (also when it belongs to another workspace)."""
        ...

    async def attach_media(self, workspace_id: str, draft_id: str, media: MediaRef) -> Draft: ...

    async def create(self, draft: Draft) -> Draft:
        """Store a new draft under a fresh short id (the given `id` is ignored) and list it
        first among the workspace's recent drafts."""
        ...

    async def recent(self, workspace_id: str, offset: int = 0, count: int = 10) -> DraftPage:
        """Newest first."""
        ...

    async def delete(self, workspace_id: str, draft_id: str) -> None:
        """`NotFound` when there is no such draft in the workspace."""
        ...


class DraftService:
    """The drafts a command may read: only those of the workspace it acts in (for a linked chat,
    the shared one). Handlers get this, never the store, so the ownership rule lives here once:
    a draft is looked up under the acting workspace only, and one stored under another workspace
    is refused even if a store or a key bug ever returned it. Changes go through the services that
    own them (generation, media, publishing), which check who may make them."""

    def __init__(self, store: DraftStore) -> None:
        self._store = store

    async def get(self, workspace: Workspace, draft_id: str) -> Draft:
        draft = await self._store.get(workspace.id, draft_id.strip().lower())
        if draft.workspace_id != workspace.id:
            raise not_here(draft_id)
        return draft

    async def recent(self, workspace: Workspace, offset: int = 0, count: int = 10) -> DraftPage:
        """Newest first; `offset` and `count` as /drafts pages them."""
        page = await self._store.recent(workspace.id, max(offset, 0), max(count, 1))
        return DraftPage([d for d in page.drafts if d.workspace_id == workspace.id], page.total, page.offset)


def not_here(draft_id: str) -> NotFound:
    """The same words as for an id that does not exist: another workspace's ids are not confirmed."""
    return NotFound(f"No draft {draft_id.strip().lower()!r} in this workspace. Send /drafts to see yours.")
