"""Streaming into a placeholder, the typing action, and photos/videos attached to drafts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from adapters.redis.keys import Keys
from adapters.redis.telegram import RedisTelegramStore
from bot.bootstrap import Studio
from bot.settings import Settings
from core.commands import build_registry
from core.commands.registry import Command, Context, NoArgs, Registry
from core.drafts import Draft
from core.reply import Button, Reply
from tests.conftest import draft_store, free_port
from tests.fake_bot_api import BOT_ID, FakeBotApi
from tests.telegram_harness import Harness, TickClock, start_harness

MB = 1024 * 1024


def streaming_registry(clock: TickClock) -> Registry:
    async def stream(ctx: Context, args: NoArgs) -> Reply:
        for chunk, later in (("Once ", 0.1), ("upon ", 0.5), ("a ", 1.0), ("time", 0.2), (" <end>", 0.1)):
            await ctx.progress.update(chunk)
            clock.now += later
        return Reply("Once upon a time <end>", (Button("Again", "/stream"),), draft_id="ab12")

    async def slow(ctx: Context, args: NoArgs) -> Reply:
        await asyncio.sleep(0.2)
        return Reply("done")

    async def fails_midway(ctx: Context, args: NoArgs) -> Reply:
        await ctx.progress.update("partial text")
        return Reply("The provider failed; nothing was saved.", ephemeral=True)

    registry = build_registry()
    registry.add(Command("stream", "Stream", stream))
    registry.add(Command("slow", "Slow", slow))
    registry.add(Command("fails_midway", "Fails", fails_midway))
    return registry


@pytest.fixture
async def tg(studio: Studio, api: FakeBotApi, settings: Settings) -> AsyncIterator[Harness]:
    clock = TickClock()
    harness = await start_harness(studio, api, settings, streaming_registry(clock), telegram_typing_delay=0)
    harness.clock = clock
    harness.frontend.clock = clock
    yield harness
    await harness.app.shutdown()


async def test_streaming_edits_a_placeholder_at_most_once_per_interval(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/stream")
    calls = [c for c in api.calls if c.method != "sendChatAction"]
    assert [c.method for c in calls] == ["sendMessage", "editMessageText", "editMessageText"]
    placeholder, progress_edit, final = (c.params for c in calls)
    assert placeholder == {"chat_id": "42", "text": "Once ", "parse_mode": "HTML"}
    # "upon " (0.1 s) and "a " (0.6 s) wait; "time" comes 1.6 s after the placeholder: one edit;
    # " <end>" 0.2 s later waits again and the final reply replaces everything.
    assert progress_edit["text"] == "Once upon a time"
    assert final["text"] == "Once upon a time &lt;end&gt;"
    assert final["message_id"] == "1000"
    assert final["reply_markup"] == {"inline_keyboard": [[{"text": "Again", "callback_data": "/stream"}]]}
    assert await tg.store.card_draft("tg:42", 1000) == "ab12"


async def test_a_card_memory_that_cannot_be_written_is_logged_and_the_card_still_arrives(
    tg: Harness, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    down = aioredis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=0.5)
    tg.frontend.store = RedisTelegramStore(down, Keys("t"))  # Redis gone just for the card memory
    await tg.send("/stream")
    final = api.of("editMessageText")[-1].params
    assert final["text"] == "Once upon a time &lt;end&gt;" and "reply_markup" in final
    assert "could not store draft card 1000" in caplog.text
    assert not [c for c in api.calls if "went wrong" in str(c.params.get("text", ""))]  # no apology
    await down.aclose()


async def test_a_deleted_placeholder_stops_the_display_but_not_the_command(
    tg: Harness, api: FakeBotApi
) -> None:
    api.fail_methods["editMessageText"] = (400, "Bad Request: message to edit not found")
    await tg.send("/stream")
    calls = [c.method for c in api.calls if c.method != "sendChatAction"]
    assert calls == ["sendMessage", "editMessageText", "sendMessage"]
    assert api.of("sendMessage")[-1].params["text"] == "Once upon a time &lt;end&gt;"


async def test_typing_is_shown_while_a_slow_command_runs(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/slow")
    assert api.of("sendChatAction")[0].params == {"chat_id": "42", "action": "typing"}
    assert api.methods()[-1] == "sendMessage"


async def test_a_failed_stream_removes_the_placeholder_and_tells_the_user_privately(
    tg: Harness, api: FakeBotApi
) -> None:
    await tg.send("/fails_midway", chat_id=-1001, user_id=8)
    methods = [m for m in api.methods() if m not in ("sendChatAction", "getChatMember")]
    assert methods == ["sendMessage", "deleteMessage", "sendMessage"]
    assert api.of("deleteMessage")[0].params["chat_id"] == "-1001"
    assert api.of("sendMessage")[1].params["chat_id"] == "8"


# --- media -----------------------------------------------------------------------------------------
def photo_message(file_id: str, size: int, **extra: Any) -> dict[str, Any]:
    sizes = [
        {"file_id": "thumb", "file_unique_id": "t", "width": 90, "height": 90, "file_size": 1000},
        {"file_id": file_id, "file_unique_id": "p", "width": 1280, "height": 720, "file_size": size},
    ]
    return {"photo": sizes, **extra}


async def save_draft(
    studio: Studio, draft_id: str = "ab12", author: str = "tg:42", ws: str = "tg:42"
) -> None:
    await draft_store(studio).save(Draft(draft_id, ws, author, "post", "A post"))


async def test_a_photo_with_the_attach_caption_is_attached_to_the_draft(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio)
    api.files["big"] = b"\xff\xd8jpeg-bytes"
    await tg.send("", **photo_message("big", 12, caption="/attach ab12"))
    assert [m for m in api.methods() if m != "sendChatAction"] == ["getFile", "download", "sendMessage"]
    assert api.of("getFile")[0].params == {"file_id": "big"}  # the largest size, not the thumbnail
    assert api.of("sendMessage")[0].params["text"] == (
        "Attached the photo (0.0 MB) to draft ab12; it now has 1 media file."
    )
    draft = await draft_store(studio).get("tg:42", "ab12")
    assert draft.media[0].kind == "photo" and draft.media[0].mime_type == "image/jpeg"
    assert Path(draft.media[0].path).read_bytes() == b"\xff\xd8jpeg-bytes"  # noqa: ASYNC240


async def test_a_video_sent_as_a_reply_to_a_draft_card_is_attached(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio, "cd34", author="tg:8", ws="tg:-1001")
    await tg.store.remember_card("tg:-1001", 555, "cd34")
    api.files["vid"] = b"\x00\x00\x00\x18ftypmp42"
    card = {
        "message_id": 555,
        "date": 0,
        "chat": {"id": -1001, "type": "supergroup", "title": "Team"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Studio"},
        "text": "Draft cd34",
    }
    video = {
        "file_id": "vid",
        "file_unique_id": "v",
        "width": 1,
        "height": 1,
        "duration": 3,
        "mime_type": "video/mp4",
        "file_size": 12,
        "file_name": "clip.mp4",
    }
    await tg.send("", chat_id=-1001, user_id=8, video=video, reply_to_message=card)
    reply = api.of("sendMessage")[0].params
    assert reply["chat_id"] == "-1001"
    assert reply["text"] == "Attached the video (0.0 MB) to draft cd34; it now has 1 media file."
    assert (await draft_store(studio).get("tg:-1001", "cd34")).media[0].kind == "video"


async def test_oversize_files_are_refused_before_any_download(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio)
    await tg.send("", **photo_message("huge", 25 * MB, caption="/attach ab12"))
    assert "getFile" not in api.methods()
    text = api.of("sendMessage")[0].params["text"]
    assert text.startswith("That photo is 25.0 MB; bots can only download files up to 20 MB from Telegram.")
    assert (await draft_store(studio).get("tg:42", "ab12")).media == []


async def test_local_mode_lifts_the_telegram_limit_but_the_studio_limit_still_applies(
    studio: Studio, api: FakeBotApi, settings: Settings
) -> None:
    harness = await start_harness(studio, api, settings, telegram_local_mode=True)
    try:
        await save_draft(studio)
        await harness.send("", **photo_message("huge", 25 * MB, caption="/attach ab12"))
        text = api.of("sendMessage")[0].params["text"]
        assert text == "That photo is 25.0 MB; the most the studio accepts is 20 MB."
        assert "getFile" not in api.methods()
    finally:
        await harness.app.shutdown()


async def test_members_cannot_attach_to_someone_elses_draft(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio, "cd34", author="tg:5", ws="tg:-1001")
    api.files["p"] = b"jpeg"
    await tg.send("", chat_id=-1001, user_id=8, **photo_message("p", 4, caption="/attach cd34"))
    assert api.of("sendMessage")[0].params["text"] == (
        "Draft cd34 was written by someone else; only its author or an admin can attach files to it."
    )
    assert (await draft_store(studio).get("tg:-1001", "cd34")).media == []


async def test_drafts_of_another_workspace_are_not_found(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio, "zz99", ws="tg:-2002")
    api.files["p"] = b"jpeg"
    await tg.send("", **photo_message("p", 4, caption="/attach zz99"))
    assert api.of("sendMessage")[0].params["text"].startswith("No draft 'zz99' in this workspace.")


async def test_photos_without_a_target_get_a_hint_in_private_and_silence_in_groups(
    tg: Harness, api: FakeBotApi
) -> None:
    await tg.send("", chat_id=-1001, user_id=8, **photo_message("p", 4))
    await tg.send("", chat_id=-1001, user_id=8, **photo_message("p", 4, caption="holiday!"))
    await tg.send("", chat_id=-1001, user_id=8, **photo_message("p", 4, caption="/attach@other_bot x"))
    assert api.of("sendMessage") == []
    await tg.send("", **photo_message("p", 4))
    await tg.send("", **photo_message("p", 4, caption="/attach"))
    hint, usage = (p["text"] for p in tg.sent())
    assert hint.startswith("To add this to a draft, send it with the caption /attach &lt;draft id&gt;")
    assert usage == "Which draft? Usage: send the file with the caption /attach &lt;draft id&gt;."


async def test_a_reply_to_a_bot_message_that_is_no_card_is_explained(tg: Harness, api: FakeBotApi) -> None:
    other = {
        "message_id": 9,
        "date": 0,
        "chat": {"id": 42, "type": "private", "first_name": "A"},
        "from": {"id": BOT_ID, "is_bot": True, "first_name": "Studio"},
        "text": "Hi",
    }
    await tg.send("", **photo_message("p", 4, reply_to_message=other))
    assert tg.sent()[0]["text"].startswith("That message is not a draft card.")


async def test_a_download_telegram_refuses_is_explained(tg: Harness, api: FakeBotApi, studio: Studio) -> None:
    await save_draft(studio)
    await tg.send("", **photo_message("gone", 4, caption="/attach ab12"))  # getFile → 400
    assert tg.sent()[0]["text"].startswith("Telegram could not hand over that photo (Invalid file_id)")


async def test_unsupported_document_types_are_refused_by_the_core(
    tg: Harness, api: FakeBotApi, studio: Studio
) -> None:
    await save_draft(studio)
    document = {"file_id": "g", "file_unique_id": "g", "mime_type": "image/gif", "file_size": 10}
    await tg.send("", document=document, caption="/attach ab12")
    assert tg.sent()[0]["text"].startswith("Files of type image/gif cannot be posted")


async def test_a_quick_streaming_command_answers_with_one_message_and_no_placeholder(
    studio: Studio, api: FakeBotApi, settings: Settings
) -> None:
    clock = TickClock()
    harness = await start_harness(studio, api, settings, streaming_registry(clock), telegram_typing_delay=5)
    harness.frontend.clock = clock
    try:
        await harness.send("/stream")  # streams for 1.9 s of clock time, less than the 5 s delay
        assert api.methods() == ["sendMessage"]
        assert api.of("sendMessage")[0].params["text"] == "Once upon a time &lt;end&gt;"
    finally:
        await harness.app.shutdown()
