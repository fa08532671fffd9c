"""/performance and /besttime through the chat front ends' real request paths: Telegram (PTB
against the fake Bot API) and Discord (discord.py's command tree against the fake Discord)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.bootstrap import Studio
from bot.settings import Settings
from tests.fake_bot_api import FakeBotApi
from tests.fake_discord import FakeDiscord, slash
from tests.telegram_harness import Harness, start_harness
from tests.test_discord import answer_to, edited, fake, front  # noqa: F401 (fixtures)


@pytest.fixture
async def tg(studio: Studio, api: FakeBotApi, settings: Settings) -> AsyncIterator[Harness]:
    harness = await start_harness(studio, api, settings)
    yield harness
    await harness.app.shutdown()


async def test_telegram_users_get_performance_and_besttime(tg: Harness) -> None:
    await tg.send("/besttime facebook")
    await tg.send("/performance 30d")
    await tg.send("/performance fortnight")
    texts = [m["text"] for m in tg.sent()]
    assert "Not enough history yet to suggest a time for facebook: 0 published post(s)" in texts[0]
    assert "I need at least 10" in texts[0]
    assert texts[1].startswith("No post was published in the last 30 days.")
    assert (
        "fortnight" in texts[2] and "is not a period: use 7d, 30d (1 to 365 days), week or month" in texts[2]
    )


async def test_discord_users_get_performance_and_besttime(front: object, fake: FakeDiscord) -> None:  # noqa: F811
    answer = await answer_to(fake, slash(fake, "besttime", platform="tiktok"))
    assert "Not enough history yet to suggest a time for tiktok" in answer["data"]["content"]
    unknown = await answer_to(fake, slash(fake, "besttime", platform="myspace"))
    assert "Unknown platform 'myspace'" in unknown["data"]["content"]
    payload = slash(fake, "performance", period="week")
    deferred = await answer_to(fake, payload)
    assert deferred["type"] == 5  # slow: acknowledged at once, answered by editing
    [edit] = await edited(fake, payload)
    assert edit.body["content"].startswith("No post was published in this week (since Monday).")
