"""/generate and the draft commands through the dispatcher, with a scripted provider."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import pytest

from adapters.redis.drafts import RedisDraftStore
from adapters.redis.keys import Keys
from adapters.redis.profiles import RedisProfileStore
from bot.bootstrap import Studio
from core.commands import build_registry
from core.commands.dispatch import Dispatcher
from core.drafts import Draft, DraftService
from core.errors import AIKeyRejected, ProviderError, QuotaExceeded, RateLimited, StoreUnavailable
from core.generation.prompts import Limits
from core.generation.service import Defaults, GenerationService
from core.usage import UsageEvent
from core.workspaces import Actor, Role, Workspace
from tests.conftest import caller, draft_store, run
from tests.fake_ai import FakeSource


@dataclass
class RecordingGate:
    log: list[str]
    refuse: Exception | None = None
    events: list[UsageEvent] = field(default_factory=list)

    async def admit_generation(self, workspace: Workspace, actor: Actor) -> None:
        self.log.append(f"admit {workspace.id} {actor.user_id}")
        if self.refuse is not None:
            raise self.refuse

    async def record(self, workspace: Workspace, actor: Actor, event: UsageEvent) -> bool:
        self.log.append(f"record {event.kind}")
        self.events.append(event)
        return True


class Progress:
    def __init__(self) -> None:
        self.chunks: list[str] = []

    async def update(self, text: str) -> None:
        self.chunks.append(text)


@dataclass
class Rig:
    studio: Studio
    source: FakeSource
    gate: RecordingGate

    async def drafts(self, workspace: str = "console:w1") -> list[str]:
        page = await draft_store(self.studio).recent(workspace, 0, 100)
        return [d.id for d in page.drafts]


def rig_for(
    studio: Studio,
    source: FakeSource,
    limits: Limits | None = None,
    drafts: type[RedisDraftStore] = RedisDraftStore,
    gate: RecordingGate | None = None,
) -> Rig:
    gate = gate or RecordingGate(source.log)
    client = studio.redis.client
    keys = Keys("cs")
    store = drafts(client, keys)
    generation = GenerationService(
        source, RedisProfileStore(client, keys), store, gate, studio.services.clock,
        defaults=Defaults("openai", "gpt-4o-mini"), limits=limits,
    )  # fmt: skip
    # The studio is immutable: the rig is a second one built from it with these pieces swapped.
    services = replace(studio.services, drafts=DraftService(store), usage=gate, generation=generation)
    rigged = replace(studio, services=services, dispatcher=Dispatcher(services, build_registry()))
    return Rig(rigged, source, gate)


@pytest.fixture
def rig(studio: Studio) -> Rig:
    return rig_for(studio, FakeSource())


def draft_id(text: str) -> str:
    head = text.split("\n", 1)[0]
    return head.split(" ")[2]


async def test_generate_a_post_stores_a_complete_draft_with_buttons(rig: Rig) -> None:
    progress = Progress()
    reply = await rig.studio.dispatcher.handle_text(
        caller(), "/generate a post about our spring sale", progress
    )
    ident = draft_id(reply.text)
    assert reply.text.startswith(f"New draft {ident} · post · v1")
    assert "A fresh take on spring. Visit us today!" in reply.text
    assert "gpt-4o-mini via openai · 100+50 tokens · est. $0.000045" in reply.text
    assert [b.command for b in reply.buttons] == [
        f"/publish {ident}", f"/schedule {ident}", f"/regenerate {ident}", f"/variants {ident} 3",
        f"/discard {ident}",
    ]  # fmt: skip
    assert all(len(b.command.encode()) <= 64 for b in reply.buttons)
    assert "".join(progress.chunks).strip() == "A fresh take on spring. Visit us today!"
    draft = await draft_store(rig.studio).get("console:w1", ident)
    assert (draft.author_id, draft.kind, draft.request) == ("console:u1", "post", "our spring sale")
    assert (draft.provider, draft.model, draft.input_tokens, draft.output_tokens) == (
        "openai",
        "gpt-4o-mini",
        100,
        50,
    )
    assert draft.cost == pytest.approx(0.000045) and draft.created_at.startswith("2026-11-25T12:00")
    assert rig.gate.log == ["admit console:w1 console:u1", "record generated"]
    assert rig.gate.events[0] == UsageEvent("generated", "post", "gpt-4o-mini", 100, 50, draft.cost)


async def test_caption_for_facebook_uses_the_platform(rig: Rig) -> None:
    reply = await run(rig.studio, "/generate caption about our new oat latte for facebook --tone warm")
    draft = await draft_store(rig.studio).get("console:w1", draft_id(reply.text))
    assert (draft.kind, draft.platform, draft.options["tone"]) == ("caption", "facebook", "warm")
    assert "Facebook" in rig.source.prompts[0].system


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        ("/generate", "Say what it is about"),
        ("/generate a post about " + "x" * 2001, "at most 2000"),
        ("/generate a limerick about cats", "Kinds: post, caption, tiktok, thread, outline, article"),
        ("/generate a post about cats --mood happy", "Unknown option --mood"),
        ("/generate a post about cats --length epic", "Lengths: short, medium, long"),
        ("/generate a post about cats --platform myspace", "Platforms: facebook"),
        ("/generate a post about cats --emoji --no-emoji", "either --emoji or --no-emoji"),
        ("/generate --kind limerick cats", "Unknown kind 'limerick'"),
    ],
)
async def test_bad_requests_explain_and_store_nothing(rig: Rig, command: str, needle: str) -> None:
    reply = await run(rig.studio, command)
    assert needle in reply.text
    assert await rig.drafts() == [] and rig.gate.log == []


async def test_no_provider_configured_names_the_variable(studio: Studio) -> None:
    for role in (Role.MEMBER, Role.ADMIN):
        reply = await run(studio, "/generate a post about our spring sale", role)
        assert "set OPENAI_API_KEY" in reply.text
    assert (await draft_store(studio).recent("console:w1")).total == 0


async def test_rejected_key_is_phrased_for_members_and_admins(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource(AIKeyRejected("openai", "OPENAI_API_KEY")))
    member = await run(rig.studio, "/generate a post about x", Role.MEMBER)
    admin = await run(rig.studio, "/generate a post about x", Role.ADMIN)
    assert "AI key was rejected" in member.text and "OPENAI_API_KEY" not in member.text
    assert "AI key was rejected" in admin.text and "OPENAI_API_KEY" in admin.text
    assert await rig.drafts() == [] and "record generated" not in rig.gate.log


@pytest.mark.parametrize(
    ("error", "needle"),
    [
        (
            RateLimited(300, "The AI provider (openai) is rate limiting requests. Try again in 5 min."),
            "5 min",
        ),
        (ProviderError("The AI provider (openai) is failing right now (HTTP 500)"), "HTTP 500"),
        (ProviderError("did not answer within 60 s"), "60 s"),
    ],
)
async def test_provider_failures_store_no_draft(studio: Studio, error: Exception, needle: str) -> None:
    rig = rig_for(studio, FakeSource(error))  # type: ignore[arg-type]
    reply = await run(rig.studio, "/generate a post about x")
    assert needle in reply.text and await rig.drafts() == []


async def test_empty_provider_text_is_reported_not_stored(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("   "))
    reply = await run(rig.studio, "/generate a post about x")
    assert "returned no text, so nothing was saved" in reply.text
    assert await rig.drafts() == [] and rig.gate.events == []


class DraftStoreDown(RedisDraftStore):
    async def create(self, draft: Draft) -> Draft:
        raise StoreUnavailable("connection refused")


async def test_tokens_are_charged_even_when_the_draft_cannot_be_stored(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource(), drafts=DraftStoreDown)
    reply = await run(rig.studio, "/generate a post about x")
    assert "not saved as a draft, and its usage was counted" in reply.text
    assert reply.text.endswith("Copy it now:\n\nA fresh take on spring. Visit us today!")  # not lost
    assert rig.gate.log == ["admit console:w1 console:u1", "record generated"]
    assert rig.gate.events[0].input_tokens == 100


async def test_the_usage_gate_is_asked_before_the_provider(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource())
    rig.gate.refuse = QuotaExceeded("monthly generation budget", 100, 100, datetime(2026, 12, 1, tzinfo=UTC))
    reply = await run(rig.studio, "/generate a post about x")
    assert "budget is used up" in reply.text
    assert rig.source.prompts == [] and await rig.drafts() == []


async def test_over_long_output_is_regenerated_shorter_once(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("word " * 30, "Short caption #latte"))
    reply = await run(rig.studio, "/generate caption about latte --platform tiktok_photo")
    assert "Short caption #latte" in reply.text and "Warning" not in reply.text
    assert len(rig.source.prompts) == 2 and rig.source.prompts[1].messages[1].role == "assistant"
    draft = await draft_store(rig.studio).get("console:w1", draft_id(reply.text))
    assert draft.input_tokens == 200 and draft.output_tokens == 100


async def test_still_over_long_is_flagged_never_cut(studio: Studio) -> None:
    long_text = "word " * 30
    rig = rig_for(studio, FakeSource(long_text))
    reply = await run(rig.studio, "/generate caption about latte --platform tiktok_photo")
    assert "Warning: Still too long after a shorter retry: 149 of at most 90" in reply.text
    draft = await draft_store(rig.studio).get("console:w1", draft_id(reply.text))
    assert draft.text == long_text.strip() and draft.warning and len(rig.source.prompts) == 2


async def test_drafts_are_listed_newest_first_and_paged(rig: Rig) -> None:
    ids = []
    for n in range(10):
        rig.studio.services.clock.advance(minutes=1)  # type: ignore[attr-defined]
        ids.append(draft_id((await run(rig.studio, f"/generate a post about topic {n}")).text))
    first = await run(rig.studio, "/drafts")
    assert first.text.startswith("Drafts 1-8 of 10") and first.text.index(ids[9]) < first.text.index(ids[2])
    assert ids[0] not in first.text and first.buttons[-1].command == "/drafts 2"
    second = await run(rig.studio, "/drafts 2")
    assert ids[0] in second.text and ids[1] in second.text
    assert [b.command for b in second.buttons][-1] == "/drafts 1"
    assert "page 3 is empty" in (await run(rig.studio, "/drafts 3")).text
    assert "No drafts yet" in (await run(rig.studio, "/drafts", workspace="other")).text


async def test_edit_regenerate_and_history(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("First text.", "Funnier text!"))
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    edited = await run(rig.studio, f"/edit {ident} My own words.")
    assert edited.text.startswith(f"Edited draft {ident} · post · v2") and "My own words." in edited.text
    again = await run(rig.studio, f"/regenerate {ident.upper()} make it funnier")
    assert again.text.startswith(f"Regenerated draft {ident} · post · v3") and "Funnier text!" in again.text
    user_data = rig.source.prompts[-1].messages[0].content
    assert (
        '"change_request": "make it funnier"' in user_data and '"previous_text": "My own words."' in user_data
    )
    assert "make it funnier" not in rig.source.prompts[-1].system
    shown = await run(rig.studio, f"/draft {ident}")
    assert "Earlier versions: v1 generated, v2 edited" in shown.text
    assert "First text." in (await run(rig.studio, f"/draft {ident} 1")).text
    assert "versions 1 to 3" in (await run(rig.studio, f"/draft {ident} 9")).text
    assert rig.gate.log[-1] == "record regenerated"
    assert "Give the new text" in (await run(rig.studio, f"/edit {ident}")).text


async def test_variants_create_new_drafts_linked_to_the_original(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("Original.", "Variant A.", "Variant B."))
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    progress = Progress()
    reply = await rig.studio.dispatcher.handle_text(caller(), f"/variants {ident} 2", progress)
    assert "2 variant(s)" in reply.text and "Variant A." in reply.text and "Variant B." in reply.text
    assert "variant 2 of 2" in "".join(progress.chunks)
    page = await draft_store(rig.studio).recent("console:w1")
    assert page.total == 3 and {d.parent_id for d in page.drafts} == {"", ident}
    assert "less than or equal to 5" in (await run(rig.studio, f"/variants {ident} 6")).text
    assert len([e for e in rig.gate.log if e.startswith("admit")]) == 3


async def test_variants_keep_finished_ones_when_a_later_one_fails(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("Original.", "Variant A.", ProviderError("The AI provider is down.")))
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    reply = await run(rig.studio, f"/variants {ident} 3")
    assert "1 variant(s)" in reply.text and "Stopped early: The AI provider is down." in reply.text


async def test_discard_asks_first_and_respects_authorship(rig: Rig) -> None:
    ident = draft_id((await run(rig.studio, "/generate a post about cats", user="ann")).text)
    ask = await run(rig.studio, f"/discard {ident}", Role.MEMBER, user="bob")
    assert "cannot be undone" in ask.text and ask.buttons[0].command == f"/discard {ident} --yes"
    refused = await run(rig.studio, f"/discard {ident} --yes", Role.MEMBER, user="bob")
    assert "only its author or an admin can discard it" in refused.text and await rig.drafts() == [ident]
    done = await run(rig.studio, f"/discard {ident} --yes", Role.MEMBER, user="ann")
    assert done.text == f"Draft {ident} discarded." and await rig.drafts() == []
    assert "No draft" in (await run(rig.studio, f"/draft {ident}")).text


async def test_drafts_of_another_workspace_are_invisible(rig: Rig) -> None:
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    for command in (f"/draft {ident}", f"/edit {ident} x", f"/regenerate {ident}", f"/discard {ident} --yes"):
        assert "No draft" in (await run(rig.studio, command, workspace="intruder")).text
    assert await rig.drafts() == [ident]
    assert "not a draft id" in (await run(rig.studio, "/draft ../../etc")).text


async def test_rewrite_shorten_translate_work_on_a_draft_or_given_text(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("Original long text about cats.", "Short.", "Kurz."))
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    short = await run(rig.studio, f"/generate shorten {ident}")
    assert "Short." in short.text
    assert '"source_text": "Original long text about cats."' in rig.source.prompts[1].messages[0].content
    german = await run(rig.studio, "/generate translate Hello friends --language German")
    assert "Kurz." in german.text
    assert '"source_text": "Hello friends"' in rig.source.prompts[2].messages[0].content
    assert "which language" in (await run(rig.studio, f"/generate translate {ident}")).text


async def test_brand_voice_is_set_by_admins_and_used_by_every_prompt(rig: Rig) -> None:
    assert "No brand voice" in (await run(rig.studio, "/brand")).text
    refused = await run(rig.studio, "/brand description Cosy café", Role.MEMBER)
    assert "Only workspace admins" in refused.text
    await run(rig.studio, "/brand description Cosy neighbourhood café")
    await run(rig.studio, "/brand hashtags #oatlatte #coffee")
    saved = await run(rig.studio, "/brand dont cheap, bargain")
    assert "bargain" in saved.text
    await run(rig.studio, "/generate a post about oat milk")
    data = rig.source.prompts[0].messages[0].content
    assert "Cosy neighbourhood café" in data and "#oatlatte" in data and "bargain" in data
    assert "Cosy" not in rig.source.prompts[0].system
    cleared = await run(rig.studio, "/brand dont --clear")
    assert "dont (words to avoid): -" in cleared.text
    assert "Unknown brand field" in (await run(rig.studio, "/brand colour red")).text
    assert "No brand voice" in (await run(rig.studio, "/brand", workspace="other")).text


async def test_admins_choose_the_provider_per_workspace(rig: Rig) -> None:
    assert "openai, model gpt-4o-mini (the studio default" in (await run(rig.studio, "/ai", Role.MEMBER)).text
    assert "Only workspace admins" in (await run(rig.studio, "/ai anthropic claude-x", Role.MEMBER)).text
    assert "Unknown AI provider 'nope'" in (await run(rig.studio, "/ai nope m")).text
    assert "Name the model too" in (await run(rig.studio, "/ai anthropic")).text
    chosen = await run(rig.studio, "/ai anthropic claude-3-5-haiku-latest")
    assert "anthropic, model claude-3-5-haiku-latest (chosen for this workspace)" in chosen.text
    reply = await run(rig.studio, "/generate a post about cats")
    assert "claude-3-5-haiku-latest via anthropic" in reply.text
    assert (
        "gpt-4o-mini via openai" in (await run(rig.studio, "/generate a post about cats", workspace="b")).text
    )
    assert "studio default" in (await run(rig.studio, "/ai default")).text


async def test_closing_the_studio_closes_provider_clients(rig: Rig) -> None:
    await rig.studio.close()
    assert rig.source.closed


async def test_a_stream_that_breaks_midway_stores_no_half_draft(studio: Studio) -> None:
    from tests.fake_ai import BreakingSource

    rig = rig_for(studio, BreakingSource(ProviderError("The AI provider (x) broke off while writing.")))
    progress = Progress()
    reply = await rig.studio.dispatcher.handle_text(caller(), "/generate a post about x", progress)
    assert "broke off while writing" in reply.text and progress.chunks == ["Half a ", "sentence"]
    assert await rig.drafts() == [] and rig.gate.events == []


async def test_choosing_an_unconfigured_provider_says_which_variable_is_missing(studio: Studio) -> None:
    reply = await run(studio, "/ai anthropic claude-3-5-haiku-latest")
    assert "set ANTHROPIC_API_KEY" in reply.text
    assert "the studio default" in (await run(studio, "/ai")).text
    assert (
        "model: 'bad;model' is not in the accepted form" in (await run(studio, "/ai openai bad;model")).text
    )


async def test_regenerate_without_instruction_asks_for_a_different_take(studio: Studio) -> None:
    rig = rig_for(studio, FakeSource("Take one.", "Take two."))
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    reply = await run(rig.studio, f"/regenerate {ident}")
    assert "Take two." in reply.text
    assert '"make_it_different_from": "Take one."' in rig.source.prompts[1].messages[0].content


async def test_an_over_long_instruction_is_refused_before_any_call(rig: Rig) -> None:
    ident = draft_id((await run(rig.studio, "/generate a post about cats")).text)
    reply = await run(rig.studio, f"/regenerate {ident} " + "x" * 2001)
    assert "at most 2000 characters" in reply.text and len(rig.source.prompts) == 1
