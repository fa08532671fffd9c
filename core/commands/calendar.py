"""/calendar: the workspace's posts of a week or a month, as a picture and as text."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from core.calendar import CalendarPage, describe, names_a_time, parse_at, shift, within_reach
from core.commands.registry import Args, Command, Context
from core.errors import BadInput
from core.reply import Attachment, Button, Reply

GROUP = "Scheduling"
VIEWS = ("week", "month")
WORD_FIELDS = ("view", "platform", "at")
NOUNS = {"view": "view", "platform": "platform", "at": "time"}


class CalendarArgs(Args):
    view: Literal["week", "month"] = Field("week", description="week or month")
    platform: str = Field(
        "",
        description="only this platform or account, e.g. facebook",
        max_length=80,
        json_schema_extra={"complete": "account"},
    )
    at: str = Field(
        "",
        description="which one: +1, -1 (from this one), next, previous, or a date like 2026-12-07",
        max_length=10,
    )

    @model_validator(mode="before")
    @classmethod
    def sort_words(cls, data: Any) -> Any:
        """`/calendar +1`, `/calendar week facebook -1` and `/calendar facebook month` all work:
        each word goes to the field its shape names, whatever position it was typed in."""
        if not isinstance(data, dict) or not all(isinstance(data.get(f) or "", str) for f in WORD_FIELDS):
            return data
        sorted_words: dict[str, str] = {}
        for word in (str(data[f]).strip() for f in WORD_FIELDS if str(data.get(f) or "").strip()):
            field = "view" if word.lower() in VIEWS else "at" if names_a_time(word) else "platform"
            if field in sorted_words:
                raise PydanticCustomError(
                    "calendar_words",
                    "'{first}' and '{second}' both say the {field}; give one",
                    {"first": sorted_words[field], "second": word, "field": NOUNS[field]},
                )
            sorted_words[field] = word.lower() if field == "view" else word
        return {**{k: v for k, v in data.items() if k not in WORD_FIELDS}, **sorted_words}

    @model_validator(mode="after")
    def bounded(self) -> CalendarArgs:
        try:
            parse_at(self.view, self.at)
        except BadInput as exc:
            raise PydanticCustomError("calendar_at", str(exc).rstrip(".")) from None
        return self


async def calendar(ctx: Context, args: CalendarArgs) -> Reply:
    platform = _platform(ctx, args.platform)
    service = ctx.services.calendar
    page = await service.page(ctx.workspace, args.view, args.at, platform)
    picture = await service.picture(page)
    name = f"calendar-{page.period.view}-{page.period.first.isoformat()}.png"
    buttons = navigation(page, service.today(ctx.workspace))
    return Reply(describe(page), buttons, Attachment(name, picture, "image/png"))


def _platform(ctx: Context, token: str) -> str:
    if not token:
        return ""
    if not ctx.services.platforms.is_target(token):
        raise BadInput(
            f"{token!r} is neither week nor month, a time (+1, -1, next, 2026-12-07) nor a platform "
            f"({ctx.services.platforms.targets_hint()}). Example: /calendar month facebook +1"
        )
    return token.strip().lower()


def navigation(page: CalendarPage, today: date) -> tuple[Button, ...]:
    """Previous / this / next and the other view. Dates, not offsets: a button pressed next
    week still shows the week it names."""
    view, first = page.period.view, page.period.first
    other = "month" if view == "week" else "week"
    scope = f" {page.platform}" if page.platform else ""
    earlier, later = shift(view, first, -1), shift(view, first, 1)
    buttons = []
    if within_reach(earlier, today):
        buttons.append(Button(f"◀ Previous {view}", f"/calendar {view} {earlier.isoformat()}{scope}"))
    buttons.append(Button(f"This {view}", f"/calendar {view}{scope}"))
    if within_reach(later, today):
        buttons.append(Button(f"Next {view} ▶", f"/calendar {view} {later.isoformat()}{scope}"))
    focus = today if first <= today <= page.period.last else first
    buttons.append(Button(f"{other.capitalize()} view", f"/calendar {other} {focus.isoformat()}{scope}"))
    return tuple(buttons)


COMMANDS = [
    Command(
        "calendar",
        "The posts of a week or month by day and hour, as a picture and a list",
        calendar,
        CalendarArgs,
        group=GROUP,
        examples=("/calendar", "/calendar week +1", "/calendar month facebook", "/calendar week 2026-12-07"),
    ),
]
