from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import Field

from core.commands.parsing import parse_args, split_command
from core.commands.registry import Args, Command, Registry
from core.errors import BadInput
from core.reply import Reply


class EditArgs(Args):
    draft: str = Field(description="draft id", pattern=r"^[a-z0-9]{2,12}$")
    text: str = Field(description="new text", json_schema_extra={"rest": True})
    yes: bool = Field(False, json_schema_extra={"option": True})
    count: int = Field(1, ge=1, le=5, json_schema_extra={"option": True})


async def noop(ctx: object, args: object) -> Reply:
    return Reply("ok")


EDIT = Command("edit", "Edit a draft", noop, EditArgs)


def test_split_command_handles_bot_suffix_case_and_missing_slash() -> None:
    assert split_command("/Edit@studio_bot ab12 hello") == ("edit", "ab12 hello")
    assert split_command("help") == ("help", "")
    assert split_command("/edit\nline one") == ("edit", "line one")


def test_rest_keeps_line_breaks_and_spacing() -> None:
    args = parse_args(EDIT, "ab12 First line\n\n  second  line")
    assert isinstance(args, EditArgs)
    assert args.text == "First line\n\n  second  line"


def test_options_may_appear_anywhere_and_are_cut_from_rest() -> None:
    args = parse_args(EDIT, "ab12 --yes hello --count 3 world")
    assert isinstance(args, EditArgs)
    assert (args.text, args.yes, args.count) == ("hello world", True, 3)
    assert parse_args(EDIT, "ab12 x --count=2").count == 2  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "<draft> is required"),
        ("ab12", "<text> is required"),
        ("AB!! hi", "draft:"),
        ("ab12 hi --count 9", "count:"),
        ("ab12 hi --count", "--count needs a value"),
        ("x" * 20_001, "too long"),
    ],
)
def test_bad_input_explains_what_is_wrong_with_usage(text: str, expected: str) -> None:
    with pytest.raises(BadInput) as caught:
        parse_args(EDIT, text)
    assert expected in str(caught.value)


def test_unexpected_positional_is_refused() -> None:
    class One(Args):
        name: str

    with pytest.raises(BadInput, match="Unexpected 'extra'"):
        parse_args(Command("one", "One arg", noop, One), "a extra")


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_with_bad_input(text: str) -> None:
    try:
        parse_args(EDIT, text)
    except BadInput as exc:
        assert "Usage: /edit" in str(exc) or "too long" in str(exc)


def test_registry_rejects_duplicates_and_bad_names() -> None:
    with pytest.raises(ValueError, match="declared twice"):
        Registry([EDIT, EDIT])
    with pytest.raises(ValueError, match="a-z0-9_"):
        Command("Bad-Name", "x", noop)
    with pytest.raises(ValueError, match="summary"):
        Command("ok", "", noop)


def test_usage_and_description_come_from_the_args_model() -> None:
    assert EDIT.usage() == "/edit <draft> <text> [--yes] [--count <count>]"
    described = Registry([EDIT]).describe()[0]
    names = [(o["name"], o["type"], o["required"], o["kind"]) for o in described["options"]]
    assert names == [
        ("draft", "string", True, "positional"),
        ("text", "string", True, "rest"),
        ("yes", "boolean", False, "option"),
        ("count", "integer", False, "option"),
    ]
