"""/generate, /drafts, /draft, /edit, /regenerate, /variants, /discard, /brand, /ai."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from pydantic import Field, JsonValue

from core.commands.registry import Args, Command, Context
from core.drafts import Draft, check_draft_id
from core.errors import BadInput, NotFound
from core.generation.brand import change_brand, describe_brand
from core.generation.pricing import format_cost
from core.generation.prompts import KINDS, LENGTHS, PLATFORMS, TRANSFORMS
from core.generation.requests import MAX_TOPIC, build_request, check_options, check_topic, parse_text
from core.reply import Button, Reply

if TYPE_CHECKING:
    from core.services import Services

GROUP = "Content"
PAGE_SIZE = 8
PREVIEW = 60


# Offered as choices where a front end has them (Discord); typed text accepts any tone.
TONES = ("friendly", "professional", "playful", "witty", "inspiring", "informative", "casual",
         "formal", "bold", "warm", "urgent", "calm")  # fmt: skip
DRAFT: dict[str, JsonValue] = {"complete": "draft"}


def option(description: str, **extra: Any) -> Any:
    return Field(None, description=description, json_schema_extra={"option": True, **extra})


def draft_id() -> Any:
    return Field(description="draft id", max_length=32, json_schema_extra=DRAFT)


class GenerateArgs(Args):
    request: str | None = Field(
        None,
        description="kind and topic, e.g. 'a post about our spring sale'",
        json_schema_extra={"rest": True},
    )
    kind: str | None = option(
        "post, caption, tiktok, thread, outline, article, hashtags, rewrite, ...", choices=list(KINDS)
    )
    platform: str | None = option(
        "facebook, tiktok, tiktok_photo, telegram or discord", choices=list(PLATFORMS)
    )
    tone: str | None = option("e.g. playful, professional", choices=list(TONES))
    audience: str | None = option("who it is for")
    language: str | None = option("e.g. English, Spanish")
    length: str | None = option("short, medium or long", choices=list(LENGTHS))
    cta: str | None = option("call to action to end with")
    emoji: bool = Field(False, description="use emoji", json_schema_extra={"option": True})
    no_emoji: bool = Field(False, description="no emoji", json_schema_extra={"option": True})


class DraftsArgs(Args):
    page: int = Field(1, ge=1, le=10_000, description="page number")


class DraftArgs(Args):
    id: str = draft_id()
    version: int | None = Field(None, ge=1, description="show an earlier version")


class EditArgs(Args):
    id: str = draft_id()
    text: str | None = Field(None, description="the new text", json_schema_extra={"rest": True})


class RegenerateArgs(Args):
    id: str = draft_id()
    instruction: str | None = Field(
        None,
        description="what to change, e.g. 'make it funnier'",
        max_length=MAX_TOPIC,
        json_schema_extra={"rest": True},
    )


class VariantsArgs(Args):
    id: str = draft_id()
    n: int = Field(3, ge=1, le=5, description="how many variants (1-5)")


class DiscardArgs(Args):
    id: str = draft_id()
    yes: bool = Field(False, description="confirm", json_schema_extra={"option": True})


class BrandArgs(Args):
    field: str | None = Field(
        None, description="description, do, dont, sample, hashtags or language", max_length=32
    )
    value: str | None = Field(None, description="the new value", json_schema_extra={"rest": True})
    clear: bool = Field(False, description="remove the field's value", json_schema_extra={"option": True})


class AiArgs(Args):
    provider: str | None = Field(None, description="provider name, or 'default'", max_length=64)
    model: str | None = Field(None, description="model name", pattern=r"^[\w.:/@+-]{1,100}$")


async def generate(ctx: Context, args: GenerateArgs) -> Reply:
    if args.emoji and args.no_emoji:
        raise BadInput("Use either --emoji or --no-emoji, not both.")
    options = check_options(
        {
            "platform": args.platform,
            "tone": args.tone,
            "audience": args.audience,
            "language": args.language,
            "length": args.length,
            "cta": args.cta,
        }
    )
    parsed = parse_text(args.request or "", args.kind)
    topic = check_topic(parsed.topic, parsed.kind)
    source = ""
    if parsed.kind in TRANSFORMS:
        topic, source = await transform_source(ctx, parsed.kind, topic)
    emoji = True if args.emoji else False if args.no_emoji else None
    request = build_request(replace(parsed, topic=topic), options, emoji, source)
    draft = await ctx.services.generation.generate(ctx.workspace, ctx.actor, request, ctx.progress)
    return draft_reply(draft, "New draft")


async def transform_source(ctx: Context, kind: str, topic: str) -> tuple[str, str]:
    """'<draft id> [instruction]' works on that draft's text; anything else is the text itself."""
    first, _, rest = topic.partition(" ")
    try:
        draft = await ctx.services.drafts.get(ctx.workspace, check_draft_id(first))
    except (BadInput, NotFound):
        return f"{kind} the source text", topic
    return rest.strip() or f"{kind} the source text", draft.text


def draft_reply(draft: Draft, heading: str, extra: str = "") -> Reply:
    lines = [f"{heading} {draft.id} · {describe_kind(draft)} · v{draft.version}", "", draft.text, ""]
    lines.append(meta_line(draft))
    if draft.warning:
        lines.append(f"Warning: {draft.warning}")
    if extra:
        lines.append(extra)
    return Reply("\n".join(lines), buttons=draft_buttons(draft.id), draft_id=draft.id, card=True)


def describe_kind(draft: Draft) -> str:
    return f"{draft.kind} for {draft.platform}" if draft.platform else draft.kind


def meta_line(draft: Draft) -> str:
    if draft.source == "edited":
        return "Edited by hand."
    tokens = f"{draft.input_tokens}+{draft.output_tokens} tokens"
    return f"{draft.model} via {draft.provider} · {tokens} · est. {format_cost(draft.cost)}"


def draft_buttons(draft_id: str) -> tuple[Button, ...]:
    return (
        Button("Publish", f"/publish {draft_id}"),
        Button("Schedule", f"/schedule {draft_id}"),
        Button("Regenerate", f"/regenerate {draft_id}"),
        Button("Variants", f"/variants {draft_id} 3"),
        Button("Discard", f"/discard {draft_id}"),
    )


async def list_drafts(ctx: Context, args: DraftsArgs) -> Reply:
    offset = (args.page - 1) * PAGE_SIZE
    page = await ctx.services.drafts.recent(ctx.workspace, offset, PAGE_SIZE)
    if not page.drafts:
        if page.total:
            return Reply(f"There are only {page.total} drafts; page {args.page} is empty. Send /drafts.")
        return Reply("No drafts yet. Start with /generate a post about <topic>.")
    last = min(offset + len(page.drafts), page.total)
    lines = [f"Drafts {offset + 1}-{last} of {page.total} (newest first):"]
    lines += [summary_line(d) for d in page.drafts]
    buttons = [Button(f"Open {d.id}", f"/draft {d.id}") for d in page.drafts]
    if args.page > 1:
        buttons.append(Button("Previous", f"/drafts {args.page - 1}"))
    if last < page.total:
        buttons.append(Button("Next", f"/drafts {args.page + 1}"))
    return Reply("\n".join(lines), buttons=tuple(buttons))


def summary_line(draft: Draft) -> str:
    preview = " ".join(draft.text.split())
    preview = preview if len(preview) <= PREVIEW else preview[: PREVIEW - 1].rsplit(" ", 1)[0] + "…"
    when = draft.created_at[:16].replace("T", " ")
    return f"{draft.id}  {describe_kind(draft)}  v{draft.version}  {when}  {preview}"


async def show_draft(ctx: Context, args: DraftArgs) -> Reply:
    draft = await ctx.services.drafts.get(ctx.workspace, check_draft_id(args.id))
    if args.version is not None and args.version < draft.version:
        old = draft.versions[args.version - 1]
        return Reply(
            f"Draft {draft.id} version {args.version} ({old.source}, {old.created_at[:16]}):\n\n{old.text}"
        )
    if args.version is not None and args.version > draft.version:
        raise BadInput(f"Draft {draft.id} has versions 1 to {draft.version}.")
    history = ", ".join(f"v{i} {v.source}" for i, v in enumerate(draft.versions, 1))
    extra = f"Earlier versions: {history} (see one with /draft {draft.id} <n>)." if history else ""
    return draft_reply(draft, "Draft", extra)


async def edit(ctx: Context, args: EditArgs) -> Reply:
    draft = await ctx.services.generation.edit(
        ctx.workspace, ctx.actor, check_draft_id(args.id), args.text or ""
    )
    return draft_reply(draft, "Edited draft", await back_for_approval(ctx, draft))


async def regenerate(ctx: Context, args: RegenerateArgs) -> Reply:
    service = ctx.services.generation
    draft = await service.regenerate(
        ctx.workspace, ctx.actor, check_draft_id(args.id), args.instruction or "", ctx.progress
    )
    return draft_reply(draft, "Regenerated draft", await back_for_approval(ctx, draft))


async def back_for_approval(ctx: Context, draft: Draft) -> str:
    """An edited draft's pending posts wait for approval again (where approvals are on)."""
    back = await ctx.services.approvals.draft_changed(ctx.workspace, ctx.actor, draft)
    if not back:
        return ""
    ids = ", ".join(p.id for p in back)
    return f"Its pending post(s) {ids} take the new text and wait for an admin's approval again."


async def variants(ctx: Context, args: VariantsArgs) -> Reply:
    service = ctx.services.generation
    made, problem = await service.variants(
        ctx.workspace, ctx.actor, check_draft_id(args.id), args.n, ctx.progress
    )
    parts = [f"{len(made)} variant(s) of draft {args.id.lower()}:"]
    for draft in made:
        parts += ["", f"[{draft.id}] {draft.text}", meta_line(draft)]
        if draft.warning:
            parts.append(f"Warning: {draft.warning}")
    if problem:
        parts += ["", f"Stopped early: {problem}"]
    buttons = [Button(f"Open {d.id}", f"/draft {d.id}") for d in made]
    buttons += [Button(f"Publish {d.id}", f"/publish {d.id}") for d in made]
    return Reply("\n".join(parts), buttons=tuple(buttons))


async def discard(ctx: Context, args: DiscardArgs) -> Reply:
    draft_id = check_draft_id(args.id)
    if not args.yes:
        draft = await ctx.services.drafts.get(ctx.workspace, draft_id)
        return Reply(
            f"Discard draft {draft.id} ({summary_line(draft)})? This cannot be undone.",
            buttons=(
                Button("Yes, discard", f"/discard {draft.id} --yes"),
                Button("Keep it", f"/draft {draft.id}"),
            ),
        )
    draft = await ctx.services.generation.discard(ctx.workspace, ctx.actor, draft_id)
    return Reply(f"Draft {draft.id} discarded.")


async def brand(ctx: Context, args: BrandArgs) -> Reply:
    service = ctx.services.generation
    profile = await service.profile(ctx.workspace)
    if args.field is None:
        return Reply(describe_brand(profile.brand))
    changed = change_brand(profile.brand, args.field, args.value or "", clear=args.clear)
    await service.save_profile(ctx.workspace, ctx.actor, replace(profile, brand=changed))
    return Reply("Saved. " + describe_brand(changed))


async def ai(ctx: Context, args: AiArgs) -> Reply:
    service = ctx.services.generation
    if args.provider is not None:
        await service.choose(ctx.workspace, ctx.actor, args.provider.lower(), args.model or "")
    provider, model, own = await service.choice(ctx.workspace)
    where = "chosen for this workspace" if own else "the studio default (AI_PROVIDER / AI_MODEL)"
    installed = ", ".join(service.installed())
    return Reply(
        f"AI provider: {provider}, model {model} ({where}). Installed providers: {installed}. "
        "Admins change it with /ai <provider> <model>, or /ai default."
    )


async def warm_profile(services: Services, workspace_id: str) -> None:
    """Every generation reads the brand profile first: read it while the workspace opens."""
    await services.generation.warm(workspace_id)


COMMANDS = [
    Command("generate", "Write a post, caption, script, thread or article with AI", generate, GenerateArgs,
            group=GROUP, slow=True, warm=warm_profile, examples=("/generate a post about our spring sale",
                                   "/generate caption about our new oat latte for facebook",
                                   "/generate tiktok script about latte art --tone playful")),
    Command("drafts", "List recent drafts", list_drafts, DraftsArgs, group=GROUP, examples=("/drafts 2",)),
    Command("draft", "Show a draft and its history", show_draft, DraftArgs, group=GROUP,
            examples=("/draft k3m9qa",)),
    Command("edit", "Replace a draft's text", edit, EditArgs, group=GROUP,
            examples=("/edit k3m9qa Spring sale: 20% off everything!",)),
    Command("regenerate", "Write a draft again, optionally with an instruction", regenerate, RegenerateArgs,
            group=GROUP, slow=True, warm=warm_profile, examples=("/regenerate k3m9qa make it funnier",)),
    Command("variants", "Write 1-5 alternative versions of a draft", variants, VariantsArgs, group=GROUP,
            slow=True, warm=warm_profile, examples=("/variants k3m9qa 3",)),
    Command("discard", "Delete a draft (asks first)", discard, DiscardArgs, group=GROUP,
            examples=("/discard k3m9qa",)),
    Command("brand", "Show or set the workspace's brand voice", brand, BrandArgs, group=GROUP,
            examples=("/brand description Friendly neighbourhood café", "/brand hashtags #oatlatte #coffee")),
    Command("ai", "Show or choose the AI provider and model", ai, AiArgs, group=GROUP,
            examples=("/ai anthropic claude-3-5-haiku-latest",)),
]  # fmt: skip
