"""The Telegram front end through python-telegram-bot's real request path: updates built with
Update.de_json, Application.process_update, HTTP calls answered by a local fake Bot API."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import Field

from bot.bootstrap import Studio
from bot.settings import Settings
from bot.telegram.app import publish_commands
from bot.telegram.render import CAPTION_LIMIT, TEXT_LIMIT, escape, split_text
from core.commands import build_registry
from core.commands.registry import Args, Command, Context, NoArgs, Registry
from core.reply import Attachment, Button, Reply
from core.workspaces import Role
from tests.fake_bot_api import FakeBotApi
from tests.telegram_harness import Harness, start_harness

NASTY = "Draft _*[]()~>#+-=|{}.!<& with <b>tags</b> & &amp; entities `code` \\ end"
LONG_COMMAND = "/echo " + "y" * 80


class TextArgs(Args):
    text: str = Field(json_schema_extra={"rest": True})


async def echo(ctx: Context, args: TextArgs) -> Reply:
    return Reply(args.text)


async def card(ctx: Context, args: NoArgs) -> Reply:
    buttons = (Button("Details", "/help timezone"), Button("Long", LONG_COMMAND), Button("Who", "/whoami"))
    return Reply("Draft d1\n\n" + NASTY, buttons=buttons, draft_id="d1")


async def secret(ctx: Context, args: NoArgs) -> Reply:
    return Reply("only for you", ephemeral=True)


async def secret_long(ctx: Context, args: NoArgs) -> Reply:
    return Reply("s" * 300, ephemeral=True)


async def admin_only(ctx: Context, args: NoArgs) -> Reply:
    return Reply("admin thing done")


async def photo(ctx: Context, args: NoArgs) -> Reply:
    words = " ".join(["word"] * 400)  # 1999 chars: caption 1024 max, the rest follows
    return Reply(words, (Button("Again", "/photo"),), Attachment("chart.png", b"\x89PNG fake", "image/png"))


async def document(ctx: Context, args: NoArgs) -> Reply:
    return Reply("your export", attachment=Attachment("export.csv", b"a,b\n1,2\n", "text/csv"))


def studio_registry() -> Registry:
    registry = build_registry()
    registry.add(Command("echo", "Say it back", echo, TextArgs))
    registry.add(Command("card", "Show a card", card))
    registry.add(Command("secret", "Ephemeral", secret))
    registry.add(Command("secret_long", "Long ephemeral", secret_long))
    registry.add(Command("admin_only", "Admins only", admin_only, role=Role.ADMIN))
    registry.add(Command("photo", "A chart", photo))
    registry.add(Command("document", "A file", document))
    return registry


@pytest.fixture
async def tg(studio: Studio, api: FakeBotApi, settings: Settings) -> AsyncIterator[Harness]:
    harness = await start_harness(studio, api, settings, studio_registry())
    yield harness
    await harness.app.shutdown()


def keyboard(params: dict[str, Any]) -> list[list[dict[str, str]]]:
    return params["reply_markup"]["inline_keyboard"]  # type: ignore[no-any-return]


# --- start-up ---------------------------------------------------------------------------------
async def test_start_publishes_every_registry_command_with_admin_scopes(tg: Harness) -> None:
    registry = tg.frontend.dispatcher.registry
    await publish_commands(tg.app, registry)
    calls = tg.api.of("setMyCommands")
    assert [c.params.get("scope") for c in calls] == [
        None,
        {"type": "all_private_chats"},
        {"type": "all_chat_administrators"},
    ]
    everything = [{"command": c.name, "description": c.summary} for c in registry.all()]
    admin_only = {c.name for c in registry.all() if c.role is Role.ADMIN}
    assert "admin_only" in admin_only
    members = [e for e in everything if e["command"] not in admin_only]
    assert calls[0].params["commands"] == members
    assert calls[1].params["commands"] == everything == calls[2].params["commands"]


# --- commands and rendering ---------------------------------------------------------------------
async def test_help_in_a_private_chat_answers_with_escaped_html(tg: Harness, studio: Studio) -> None:
    await tg.send("/help")
    expected = (await tg.frontend.dispatcher.handle_text(_caller(), "/help")).text
    chunks = split_text(expected)  # the help outgrew one message as commands were added
    assert tg.api.methods() == ["sendMessage"] * len(chunks)
    assert tg.sent() == [{"chat_id": "42", "text": escape(c), "parse_mode": "HTML"} for c in chunks]


def _caller() -> Any:
    from core.commands.dispatch import Caller

    return Caller("tg", "42", "42", "Ann", Role.ADMIN)


async def test_draft_text_full_of_markup_characters_is_escaped_exactly(tg: Harness) -> None:
    await tg.send("/echo " + NASTY)
    (params,) = tg.sent()
    assert params["parse_mode"] == "HTML"
    assert params["text"] == (
        "Draft _*[]()~&gt;#+-=|{}.!&lt;&amp; with &lt;b&gt;tags&lt;/b&gt; &amp; &amp;amp; "
        "entities `code` \\ end"
    )
    assert html.unescape(params["text"]) == NASTY


async def test_long_replies_split_at_4096_on_word_boundaries(tg: Harness) -> None:
    words = [f"w{i}&<" for i in range(2500)]  # ~ 15000 chars
    await tg.send("/echo " + " ".join(words))
    texts = [html.unescape(p["text"]) for p in tg.sent()]
    assert len(texts) == 5
    assert all(TEXT_LIMIT - 10 <= len(t) <= TEXT_LIMIT for t in texts[:-1])  # packed, never over
    assert " ".join(texts).split() == words  # no word was cut
    assert all("reply_markup" not in p for p in tg.sent())


async def test_commands_addressed_to_this_bot_work_in_groups_others_are_ignored(
    tg: Harness, api: FakeBotApi
) -> None:
    await tg.send("/whoami@studio_bot", chat_id=-1001, user_id=7)
    await tg.send("/whoami@other_bot", chat_id=-1001, user_id=7)
    await tg.send("/nosuchcommand", chat_id=-1001, user_id=7)  # probably another bot's
    assert [c.method for c in api.calls] == ["getChatMember", "sendMessage"]
    assert "tg:-1001" in api.of("sendMessage")[0].params["text"]  # ephemeral → sent to the user
    assert api.of("sendMessage")[0].params["chat_id"] == "7"


async def test_unknown_command_and_plain_text_in_private_get_help(tg: Harness) -> None:
    await tg.send("/nosuchcommand")
    await tg.send("hello there")
    assert [p["text"] for p in tg.sent()] == [
        "Unknown command /nosuchcommand. Send /help to see every command.",
        "Send /help to see what I can do.",
    ]


async def test_usage_errors_come_from_the_core_parser(tg: Harness) -> None:
    await tg.send("/echo")
    assert tg.sent()[0]["text"] == "&lt;text&gt; is required. Usage: /echo &lt;text&gt;"


# --- groups and roles ------------------------------------------------------------------------------
async def test_group_admins_are_workspace_admins_and_lookups_are_cached(tg: Harness, api: FakeBotApi) -> None:
    api.admins.add((-1001, 5))
    await tg.send("/timezone Europe/Berlin", chat_id=-1001, user_id=5)
    await tg.send("/admin_only", chat_id=-1001, user_id=5)
    assert len(api.of("getChatMember")) == 1
    first, second = tg.sent()
    assert first["chat_id"] == "-1001" and first["text"].startswith("Timezone set to Europe/Berlin")
    assert first["reply_parameters"]["message_id"] > 0  # threaded under the command in groups
    assert second["text"] == "admin thing done"


async def test_admin_status_is_asked_again_after_the_cache_expires(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/whoami", chat_id=-1001, user_id=5)
    tg.clock.now += 61
    await tg.send("/whoami", chat_id=-1001, user_id=5)
    assert len(api.of("getChatMember")) == 2


async def test_members_are_refused_admin_commands_privately(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/admin_only", chat_id=-1001, user_id=8)
    await tg.send("/timezone Asia/Tokyo", chat_id=-1001, user_id=8)
    refusal, timezone = tg.sent()
    assert refusal["chat_id"] == "8"
    assert refusal["text"] == (
        "In Team: /admin_only is for workspace admins only; ask an admin of this chat to run it."
    )
    assert timezone["text"] == "In Team: Only workspace admins can change the workspace timezone."


async def test_ephemeral_reply_falls_back_to_the_chat_when_the_bot_cannot_dm(
    tg: Harness, api: FakeBotApi
) -> None:
    api.blocked_dms.add(8)
    await tg.send("/secret", chat_id=-1001, user_id=8)
    dm, in_chat = tg.sent()
    assert dm["chat_id"] == "8"
    assert in_chat["chat_id"] == "-1001" and in_chat["text"] == "only for you"
    assert in_chat["reply_parameters"]["message_id"] > 0


async def test_anonymous_group_admin_counts_as_admin(tg: Harness, api: FakeBotApi) -> None:
    group = {"id": -1001, "type": "supergroup", "title": "Team"}
    await tg.send("/admin_only", chat_id=-1001, user_id=1087968824, sender_chat=group)
    assert tg.sent()[0]["text"] == "admin thing done"
    assert api.of("getChatMember") == []


# --- buttons -------------------------------------------------------------------------------------
async def test_cards_get_inline_keyboards_with_commands_or_redis_tokens(tg: Harness) -> None:
    await tg.send("/card")
    (params,) = tg.sent()
    rows = keyboard(params)
    assert [[b["text"] for b in row] for row in rows] == [["Details", "Long"], ["Who"]]
    assert rows[0][0]["callback_data"] == "/help timezone"
    token = rows[0][1]["callback_data"]
    assert token.startswith("t:") and len(token.encode()) <= 64
    assert await tg.frontend.delivery.codec.decode(token) == LONG_COMMAND
    assert rows[1][0]["callback_data"] == "/whoami"


async def test_pressing_a_button_answers_runs_the_command_and_edits_the_card(tg: Harness) -> None:
    await tg.send("/card")
    card = tg.last_card()
    tg.api.clear()
    await tg.press("/help timezone", card)
    assert tg.api.methods() == ["answerCallbackQuery", "editMessageText"]
    edit = tg.api.of("editMessageText")[0].params
    assert edit["chat_id"] == "42" and edit["message_id"] == "777" and edit["parse_mode"] == "HTML"
    assert edit["text"].startswith("/timezone [&lt;name&gt;]")
    assert "reply_markup" not in edit


async def test_a_long_command_button_runs_through_its_token(tg: Harness) -> None:
    await tg.send("/card")
    card = tg.last_card()
    token = keyboard(tg.sent()[0])[0][1]["callback_data"]
    tg.api.clear()
    await tg.press(token, card)
    assert tg.api.of("editMessageText")[0].params["text"] == "y" * 80


async def test_expired_button_tokens_get_a_clear_alert(tg: Harness) -> None:
    await tg.send("/card")
    card = tg.last_card()
    tg.api.clear()
    await tg.press("t:0000000000000000", card)
    (answer,) = tg.api.calls
    assert answer.method == "answerCallbackQuery"
    assert answer.params["text"] == "This button has expired; type the command instead."
    assert answer.params["show_alert"] == "true"


async def test_buttons_run_as_the_presser_with_the_pressers_role(tg: Harness, api: FakeBotApi) -> None:
    api.admins.add((-1001, 5))
    await tg.send("/card", chat_id=-1001, user_id=5)
    card = tg.last_card()
    api.clear()
    await tg.press("/admin_only", card, user_id=9)  # a member presses an admin button
    assert api.methods() == ["getChatMember", "answerCallbackQuery"]
    alert = api.of("answerCallbackQuery")[0].params
    assert alert["text"] == "/admin_only is for workspace admins only; ask an admin of this chat to run it."
    assert alert["show_alert"] == "true"
    api.clear()
    await tg.press("/whoami", card, user_id=5)  # a short ephemeral answer: an alert to the presser
    assert "admin of workspace tg:-1001" in api.of("answerCallbackQuery")[0].params["text"]
    api.clear()
    await tg.press("/secret_long", card, user_id=9)  # too long for an alert → a private message
    assert api.methods() == ["answerCallbackQuery", "sendMessage"]
    assert "text" not in api.of("answerCallbackQuery")[0].params
    dm = api.of("sendMessage")[0].params
    assert dm["chat_id"] == "9" and dm["text"] == "In Team: " + "s" * 300


async def test_pressing_a_button_that_changes_nothing_is_not_an_error(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/card")
    card = tg.last_card()
    api.fail_methods["editMessageText"] = (400, "Bad Request: message is not modified")
    await tg.press("/help timezone", card)
    assert "sendMessage" not in api.methods()[1:]  # no apology


# --- attachments -----------------------------------------------------------------------------------
async def test_images_are_sent_as_photos_with_split_captions_and_keyboard_last(tg: Harness) -> None:
    await tg.send("/photo")
    photo = tg.api.of("sendPhoto")[0]
    assert photo.params["chat_id"] == "42" and photo.params["parse_mode"] == "HTML"
    assert len(photo.params["caption"]) <= CAPTION_LIMIT and "reply_markup" not in photo.params
    assert b"\x89PNG fake" in photo.files.values()
    (rest,) = tg.sent()
    assert (photo.params["caption"] + " " + rest["text"]).split() == ["word"] * 400
    assert keyboard(rest) == [[{"text": "Again", "callback_data": "/photo"}]]


async def test_other_files_are_sent_as_documents(tg: Harness) -> None:
    await tg.send("/document")
    (doc,) = tg.api.of("sendDocument")
    assert doc.params["caption"] == "your export"
    assert b"a,b\n1,2\n" in doc.files.values()


# --- errors ----------------------------------------------------------------------------------------
async def test_unexpected_errors_become_an_apology_with_an_error_id(
    tg: Harness, api: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    api.fail_methods["sendPhoto"] = (400, "Bad Request: wrong file identifier")
    await tg.send("/photo")
    apology = tg.sent()[-1]
    assert apology["chat_id"] == "42"
    assert apology["text"].startswith("Sorry, something went wrong on our side (error id ")
    error_id = apology["text"].split("error id ")[1][:8]
    (logged,) = [r.getMessage() for r in caplog.records if error_id in r.getMessage()]
    assert "(message, chat 42, user 42)" in logged and "/photo" not in logged  # never the text itself


async def test_a_card_that_can_no_longer_be_edited_is_answered_anew(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/card")
    card = tg.last_card()
    api.clear()
    api.fail_methods["editMessageText"] = (400, "Bad Request: message to edit not found")
    await tg.press("/help timezone", card)
    assert api.methods() == ["answerCallbackQuery", "editMessageText", "sendMessage"]
    assert tg.sent()[0]["text"].startswith("/timezone [&lt;name&gt;]")


async def test_when_telegram_cannot_tell_the_role_the_user_is_a_member_and_asked_again(
    tg: Harness, api: FakeBotApi
) -> None:
    api.fail_methods["getChatMember"] = (400, "Bad Request: user not found")
    await tg.send("/admin_only", chat_id=-1001, user_id=5)
    del api.fail_methods["getChatMember"]
    api.admins.add((-1001, 5))
    await tg.send("/admin_only", chat_id=-1001, user_id=5)
    assert len(api.of("getChatMember")) == 2  # the failure was not cached
    assert tg.sent()[0]["chat_id"] == "5" and tg.sent()[-1]["text"] == "admin thing done"


async def test_a_token_typed_in_a_group_is_refused_and_the_message_deleted(
    tg: Harness, api: FakeBotApi
) -> None:
    api.admins.add((-1001, 5))
    update = await tg.send("/connect facebook 123 PAGE-TOKEN-123456", chat_id=-1001, user_id=5)
    [deleted] = api.of("deleteMessage")
    assert deleted.params["chat_id"] == "-1001"
    assert deleted.params["message_id"] == str(update["message"]["message_id"])
    refusal = tg.sent()[0]["text"]
    assert "private chat" in refusal and "PAGE-TOKEN" not in refusal


async def test_a_private_chat_may_take_a_token(tg: Harness, api: FakeBotApi) -> None:
    await tg.send("/connect facebook 123 PAGE-TOKEN-123456")
    assert api.of("deleteMessage") == []
    assert "private chat" not in tg.sent()[0]["text"]
