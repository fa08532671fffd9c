"""Build discord.py app commands from the core registry, so each command is declared once:
typed options, choices for enumerations, autocomplete where the core can suggest values, an
attachment option where a command takes a photo or video."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from core.commands.completion import Suggestion
from core.commands.registry import Command, Option, Registry

Run = Callable[[discord.Interaction, Command, dict[str, Any]], Awaitable[None]]
Complete = Callable[[discord.Interaction, Command, str, str], Awaitable[list[Suggestion]]]

DESCRIPTION_LIMIT = 100
MAX_CHOICES = 25
PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": float,
    "boolean": bool,
    "attachment": discord.Attachment,
    "role": discord.Role,
}


def build_tree(
    client: discord.Client, registry: Registry, run: Run, complete: Complete
) -> app_commands.CommandTree:
    tree: app_commands.CommandTree = app_commands.CommandTree(client)
    for command in registry.all():
        tree.add_command(build_app_command(command, run, complete))
    return tree


def build_app_command(command: Command, run: Run, complete: Complete) -> app_commands.Command[Any, ..., Any]:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, command, {name: value for name, value in values.items() if value is not None})

    options = command.options()
    # discord.py reads parameters with inspect.signature, which honours __signature__.
    callback.__signature__ = signature(options)  # type: ignore[attr-defined]
    described = app_commands.describe(**{o.name: o.description[:DESCRIPTION_LIMIT] for o in options})(
        callback
    )
    built: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=command.name, description=command.summary, callback=described
    )
    for option in options:
        if option.complete:
            built.autocomplete(option.name)(suggester(command, option.name, complete))
    return built


def suggester(command: Command, option: str, complete: Complete) -> Any:
    async def suggest(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        found = await complete(interaction, command, option, current)
        return [app_commands.Choice(name=s.label, value=s.value) for s in found[:MAX_CHOICES]]

    return suggest


def signature(options: list[Option]) -> inspect.Signature:
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    # Discord wants required options before optional ones; values are passed by name anyway.
    for option in sorted(options, key=lambda o: not o.required):
        annotation = annotation_of(option)
        default = inspect.Parameter.empty if option.required else None
        if not option.required:
            annotation = annotation | None
        params.append(
            inspect.Parameter(
                option.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return inspect.Signature(params)


def annotation_of(option: Option) -> Any:
    if option.choices and len(option.choices) <= MAX_CHOICES:
        return Literal[tuple(option.choices)]  # discord.py turns a Literal into choices
    return PYTHON_TYPES.get(option.type, str)


def discord_payloads(registry: Registry) -> list[dict[str, Any]]:
    """Exactly what the front end syncs (`content-studio commands --json`): the same tree,
    serialised by discord.py itself. Building a client opens no connection."""

    async def never(*_: Any) -> Any:
        raise RuntimeError("a payload-only tree runs no command")

    tree = build_tree(discord.Client(intents=discord.Intents(guilds=True)), registry, never, never)
    return payloads(tree)


def payloads(
    tree: app_commands.CommandTree, guild: discord.abc.Snowflake | None = None
) -> list[dict[str, Any]]:
    return [command.to_dict(tree) for command in tree.get_commands(guild=guild)]
