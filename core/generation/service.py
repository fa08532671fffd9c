"""The generation service: admit → prompt → stream from the provider → check limits → store the
finished draft once while recording its usage. Nothing is stored when any step before fails."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, replace
from typing import Any

from core.drafts import Draft, DraftStore, require_author_or_admin
from core.errors import BadInput, CoreError, ProviderError, StoreUnavailable
from core.generation.brand import Profile, ProfileStore
from core.generation.ports import Generation, GeneratorSource, Prompt, TextGenerator, Usage
from core.generation.pricing import PriceTable
from core.generation.prompts import (
    KINDS,
    LENGTHS,
    ContentRequest,
    LimitCheck,
    Limits,
    build_prompt,
    shorter_prompt,
)
from core.ports import Clock, Progress
from core.usage import UsageEvent, UsageGate
from core.workspaces import Actor, Workspace, require_admin

MAX_VARIANTS = 5
MAX_EDIT = 20_000


@dataclass(frozen=True)
class Defaults:
    provider: str
    model: str


@dataclass(frozen=True)
class Result:
    """One finished generation: the text and what it cost, with the limit check when one applies."""

    generation: Generation
    provider: str
    usage: Usage
    cost: float
    check: LimitCheck | None

    @property
    def warning(self) -> str:
        if self.check is None or not self.check.over:
            return ""
        return f"Still too long after a shorter retry: {self.check.describe()}. Edit or regenerate it."


NOT_COUNTED = "Its usage was not counted: the usage store did not answer."


class TextNotKept(StoreUnavailable):
    """Generated text the store could not keep: shown in full so the work is not lost."""

    def __init__(self, text: str, *, counted: bool) -> None:
        super().__init__("draft store unavailable after generation")
        usage = (
            "its usage was counted"
            if counted
            else "its usage was NOT counted (the usage store did not answer)"
        )
        self.args = (
            "The studio's store did not answer, so this text was not saved as a draft, and "
            f"{usage}. Copy it now:\n\n{text}",
        )
        self.text, self.counted = text, counted


class GenerationService:
    def __init__(
        self,
        source: GeneratorSource,
        profiles: ProfileStore,
        drafts: DraftStore,
        usage: UsageGate,
        clock: Clock,
        *,
        defaults: Defaults,
        prices: PriceTable | None = None,
        limits: Limits | None = None,
    ) -> None:
        self._source, self._profiles, self._drafts, self._usage = source, profiles, drafts, usage
        self._clock = clock
        self.defaults = defaults
        self._prices = prices or PriceTable()
        self._limits = limits or Limits()

    async def generate(
        self, workspace: Workspace, actor: Actor, request: ContentRequest, progress: Progress
    ) -> Draft:
        profile = await self._profiles.load(workspace.id)
        prompt = build_prompt(request, profile.brand, self._limits)
        result = await self._produce(workspace, actor, profile, request, prompt, progress)
        return await self._keep(workspace, actor, self._new_draft(workspace, actor, request, result), result)

    async def regenerate(
        self, workspace: Workspace, actor: Actor, draft_id: str, instruction: str, progress: Progress
    ) -> Draft:
        draft = await self._drafts.get(workspace.id, draft_id)
        request = request_of(draft)
        if instruction:
            extra = {"previous_text": draft.text, "change_request": instruction}
        else:  # a fresh take: show the current text so the new one is not a near copy
            extra = {"make_it_different_from": draft.text}
        profile = await self._profiles.load(workspace.id)
        prompt = build_prompt(request, profile.brand, self._limits, extra=extra)
        result = await self._produce(workspace, actor, profile, request, prompt, progress)
        self._apply(draft, result, "regenerated")
        await self._store_and_charge(  # as in `_keep`
            self._drafts.save(draft),
            self._record(workspace, actor, "regenerated", request.kind, result),
            draft,
        )
        return draft

    async def variants(
        self, workspace: Workspace, actor: Actor, draft_id: str, count: int, progress: Progress
    ) -> tuple[list[Draft], str]:
        """`count` new drafts from the same request; on a failure after the first, the finished
        ones are kept and the failure is returned as a note."""
        if not 1 <= count <= MAX_VARIANTS:
            raise BadInput(f"Ask for 1 to {MAX_VARIANTS} variants.")
        original = await self._drafts.get(workspace.id, draft_id)
        profile = await self._profiles.load(workspace.id)
        made: list[Draft] = []
        for number in range(1, count + 1):
            await progress.update(f"\n--- variant {number} of {count} ---\n")
            try:
                made.append(
                    await self._variant(workspace, actor, profile, original, (number, count), progress)
                )
            except CoreError as exc:
                if not made:
                    raise
                return made, exc.user_message(is_admin=actor.is_admin)
        return made, ""

    async def _variant(
        self,
        workspace: Workspace,
        actor: Actor,
        profile: Profile,
        original: Draft,
        position: tuple[int, int],
        progress: Progress,
    ) -> Draft:
        request = request_of(original)
        extra = {"variant": f"{position[0]} of {position[1]}", "make_it_different_from": original.text}
        prompt = build_prompt(request, profile.brand, self._limits, extra=extra, temperature=1.0)
        result = await self._produce(workspace, actor, profile, request, prompt, progress)
        draft = self._new_draft(workspace, actor, request, result)
        draft.parent_id = original.id
        return await self._keep(workspace, actor, draft, result)

    async def edit(self, workspace: Workspace, actor: Actor, draft_id: str, text: str) -> Draft:
        cleaned = text.strip()
        if not cleaned:
            raise BadInput("Give the new text: /edit <id> <new text>.")
        if len(cleaned) > MAX_EDIT:
            raise BadInput(f"The new text is {len(cleaned)} characters; at most {MAX_EDIT}.")
        draft = await self._drafts.get(workspace.id, draft_id)
        require_author_or_admin(draft, actor, "edit it")
        draft.versions.append(draft.snapshot())
        check = self._limits.check(draft.kind, draft.platform, cleaned)
        draft.text, draft.source, draft.updated_at = cleaned, "edited", self._now()
        draft.input_tokens = draft.output_tokens = 0
        draft.cost = 0.0
        draft.warning = f"Too long: {check.describe()}." if check and check.over else ""
        await self._drafts.save(draft)
        return draft

    async def discard(self, workspace: Workspace, actor: Actor, draft_id: str) -> Draft:
        draft = await self._drafts.get(workspace.id, draft_id)
        require_author_or_admin(draft, actor, "discard it")
        await self._drafts.delete(workspace.id, draft.id)
        return draft

    async def choice(self, workspace: Workspace) -> tuple[str, str, bool]:
        """(provider, model, overridden for this workspace)."""
        profile = await self._profiles.load(workspace.id)
        provider, model = self._pick(profile)
        return provider, model, bool(profile.provider)

    async def choose(self, workspace: Workspace, actor: Actor, provider: str, model: str) -> None:
        require_admin(actor, "choose the AI provider")
        profile = await self._profiles.load(workspace.id)
        if provider in ("", "default", "reset"):
            await self._profiles.save(workspace.id, replace(profile, provider="", model=""))
            return
        if provider not in self._source.names():
            raise BadInput(f"Unknown AI provider {provider!r}. Installed: {', '.join(self._source.names())}.")
        if not model and provider != self.defaults.provider:
            raise BadInput(f"Name the model too, e.g. /ai {provider} <model>.")
        self._source.open(provider, model or self.defaults.model)  # a missing key is said now, not later
        await self._profiles.save(workspace.id, replace(profile, provider=provider, model=model))

    async def aclose(self) -> None:
        await self._source.aclose()

    def installed(self) -> list[str]:
        return self._source.names()

    async def profile(self, workspace: Workspace) -> Profile:
        return await self._profiles.load(workspace.id)

    async def warm(self, workspace_id: str) -> None:
        """Load the profile into the in-process window (a prefetch: the next load is a hit)."""
        await self._profiles.load(workspace_id)

    async def save_profile(self, workspace: Workspace, actor: Actor, profile: Profile) -> None:
        require_admin(actor, "change the brand voice")
        await self._profiles.save(workspace.id, profile)

    def _pick(self, profile: Profile) -> tuple[str, str]:
        if not profile.provider:
            return self.defaults.provider, self.defaults.model
        return profile.provider, profile.model or self.defaults.model

    async def _produce(
        self,
        workspace: Workspace,
        actor: Actor,
        profile: Profile,
        request: ContentRequest,
        prompt: Prompt,
        progress: Progress,
    ) -> Result:
        generator = self._source.open(*self._pick(profile))
        await self._usage.admit_generation(workspace, actor)
        first = await stream_into(generator, prompt, progress)
        check = self._limits.check(request.kind, request.platform, first.text)
        usage = first.usage
        if check is not None and check.over:
            await progress.update(f"\n[{check.describe()}: asking for a shorter version]\n")
            retry = await stream_into(generator, shorter_prompt(prompt, first.text, check), progress)
            usage = Usage(usage.input_tokens + retry.usage.input_tokens,
                          usage.output_tokens + retry.usage.output_tokens)  # fmt: skip
            first, check = retry, self._limits.check(request.kind, request.platform, retry.text)
        cost = self._prices.cost(first.model, usage)
        return Result(first, generator.provider, usage, cost, check)

    async def _keep(self, workspace: Workspace, actor: Actor, draft: Draft, result: Result) -> Draft:
        """Store a new draft and charge its generation together: one wait instead of two, and
        the tokens are charged even if the store fails (they were spent)."""
        return await self._store_and_charge(
            self._drafts.create(draft), self._record(workspace, actor, "generated", draft.kind, result), draft
        )

    async def _store_and_charge(
        self, store: Awaitable[Draft | None], charge: Awaitable[bool], draft: Draft
    ) -> Draft:
        """The model was called and paid for: if the store then fails (Redis stalled after a
        fail-open admission), the text is handed over instead of thrown away, and the reply says
        whether its usage was counted."""
        stored, counted = await asyncio.gather(store, charge, return_exceptions=True)
        if isinstance(stored, StoreUnavailable):
            raise TextNotKept(draft.text, counted=counted is True) from stored
        for outcome in (stored, counted):
            if isinstance(outcome, BaseException):
                raise outcome
        kept = stored if isinstance(stored, Draft) else draft
        if counted is False:
            kept.warning = " ".join(filter(None, [kept.warning, NOT_COUNTED]))
        return kept

    def _new_draft(
        self, workspace: Workspace, actor: Actor, request: ContentRequest, result: Result
    ) -> Draft:
        now = self._now()
        draft = Draft(
            id="",
            workspace_id=workspace.id,
            author_id=actor.user_id,
            kind=request.kind,
            text="",
            platform=request.platform,
            request=request.topic,
            options=request.options(),
            created_at=now,
        )
        self._apply(draft, result, "generated", keep_history=False)
        return draft

    def _apply(self, draft: Draft, result: Result, source: str, *, keep_history: bool = True) -> None:
        if keep_history:
            draft.versions.append(draft.snapshot())
        draft.text, draft.source, draft.updated_at = result.generation.text, source, self._now()
        draft.provider, draft.model = result.provider, result.generation.model
        draft.input_tokens, draft.output_tokens = result.usage.input_tokens, result.usage.output_tokens
        draft.cost, draft.warning = result.cost, result.warning

    async def _record(
        self, workspace: Workspace, actor: Actor, kind: Any, content: str, result: Result
    ) -> bool:
        event = UsageEvent(
            kind=kind,
            content_kind=content,
            model=result.generation.model,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost=result.cost,
        )
        return await self._usage.record(workspace, actor, event)

    def _now(self) -> str:
        return self._clock.now().isoformat()


async def stream_into(generator: TextGenerator, prompt: Prompt, progress: Progress) -> Generation:
    """Show chunks as they come; return the final generation, refusing an empty one."""
    final: Generation | None = None
    async for item in generator.stream(prompt):
        if isinstance(item, str):
            await progress.update(item)
        else:
            final = item
    if final is None or not final.text.strip():
        raise ProviderError(
            f"The AI provider ({generator.provider}) returned no text, so nothing was saved. "
            "Try again, or rephrase the request."
        )
    return replace(final, text=final.text.strip())


def request_of(draft: Draft) -> ContentRequest:
    """Rebuild the request a draft came from (to regenerate it the same way)."""
    options = draft.options
    kind = draft.kind if draft.kind in KINDS else "post"
    length = options.get("length", "medium")
    emoji = {"on": True, "off": False}.get(options.get("emoji", ""))
    return ContentRequest(
        kind=kind,
        topic=draft.request or draft.text[:200],
        platform=draft.platform,
        tone=options.get("tone", ""),
        audience=options.get("audience", ""),
        language=options.get("language", ""),
        length=length if length in LENGTHS else "medium",
        cta=options.get("cta", ""),
        emoji=emoji,
        source_text=options.get("source_text", ""),
    )
