"""Turn the text after a command name into its typed `Args`, with usage-quality errors."""

from __future__ import annotations

import itertools
import re
from typing import Any

from pydantic import ValidationError

from core.commands.registry import Args, Command, Option
from core.errors import BadInput

TOKEN = re.compile(r"\S+")
WHITESPACE = re.compile(r"(\s)")  # the first blank of any kind (space, tab, newline) ends the name
MAX_COMMAND_TEXT = 20_000


def split_command(text: str) -> tuple[str, str]:
    """'/Gen@studio_bot  a post' → ('gen', 'a post'). Accepts a missing slash (console)."""
    stripped = text.strip()
    if stripped.startswith("/"):
        stripped = stripped[1:]
    head, *after = WHITESPACE.split(stripped, maxsplit=1)  # [name] or [name, blank, rest]
    rest = after[1] if after else ""
    name = head.split("@", 1)[0].lower()
    return name, rest.strip()


def parse_args(command: Command, text: str) -> Args:
    if len(text) > MAX_COMMAND_TEXT:
        raise BadInput(f"That message is too long ({len(text)} characters; at most {MAX_COMMAND_TEXT}).")
    options = command.options()
    by_flag = {f"--{o.name.replace('_', '-')}": o for o in options if o.kind == "option"}
    by_flag.update({f"--{o.name}": o for o in options if o.kind == "option"})
    values: dict[str, Any] = {}
    leftovers: list[re.Match[str]] = []
    tokens = list(TOKEN.finditer(text))
    index = 0
    while index < len(tokens):
        token = tokens[index].group()
        option = by_flag.get(token.split("=", 1)[0])
        if option is None:
            leftovers.append(tokens[index])
            index += 1
            continue
        index = _take_option(command, option, tokens, index, values)
    _assign_positionals(command, options, text, leftovers, values)
    return validate(command, values)


def _take_option(
    command: Command,
    option: Option,
    tokens: list[re.Match[str]],
    index: int,
    values: dict[str, Any],
) -> int:
    token = tokens[index].group()
    if "=" in token:
        values[option.name] = token.split("=", 1)[1]
        return index + 1
    if option.type == "boolean":
        values[option.name] = True
        return index + 1
    if index + 1 >= len(tokens):
        raise BadInput(f"--{option.name} needs a value. Usage: {command.usage()}")
    values[option.name] = tokens[index + 1].group()
    return index + 2


def _assign_positionals(
    command: Command,
    options: list[Option],
    text: str,
    leftovers: list[re.Match[str]],
    values: dict[str, Any],
) -> None:
    positionals = [o for o in options if o.kind != "option"]
    for position, option in enumerate(positionals):
        if position >= len(leftovers):
            return
        if option.kind == "rest":
            values[option.name] = _join_verbatim(text, leftovers[position:])
            return
        values[option.name] = leftovers[position].group()
    extra = leftovers[len(positionals) :]
    if extra:
        unexpected = " ".join(m.group() for m in extra)
        raise BadInput(f"Unexpected {unexpected!r}. Usage: {command.usage()}")


def _join_verbatim(text: str, matches: list[re.Match[str]]) -> str:
    """Keep the user's own spacing and line breaks between consecutive tokens; only the
    places where options were cut out are joined with a single space."""
    pieces = [matches[0].group()]
    for previous, current in itertools.pairwise(matches):
        gap = text[previous.end() : current.start()]
        pieces.append(gap if gap.strip() == "" else " ")
        pieces.append(current.group())
    return "".join(pieces)


def validate(command: Command, values: dict[str, Any]) -> Args:
    try:
        return command.args.model_validate(values)
    except ValidationError as exc:
        raise BadInput(explain(command, exc)) from exc


def explain(command: Command, exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        if not where:  # a rule over several arguments (a model validator) says it all itself
            problems.append(error["msg"])
        elif error["type"] == "missing":
            problems.append(f"<{where}> is required")
        elif error["type"] == "extra_forbidden":
            problems.append(f"{where} is not an option of /{command.name}")
        elif error["type"] == "string_pattern_mismatch":  # the regex itself would mean nothing to people
            problems.append(f"{where}: {str(error['input'])[:40]!r} is not in the accepted form")
        else:
            problems.append(f"{where}: {error['msg']}")
    return f"{'; '.join(problems)}. Usage: {command.usage()}"
