"""Build discord.py app commands from the core registry, so each command is declared once."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import discord
from discord import app_commands

from core.commands.registry import Command, Option

Invoke = Callable[[discord.Interaction, str, dict[str, Any]], Awaitable[None]]

PYTHON_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": bool}


def build_app_command(command: Command, invoke: Invoke) -> app_commands.Command[Any, ..., Any]:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        options = {name: value for name, value in values.items() if value is not None}
        await invoke(interaction, command.name, options)

    options = command.options()
    callback.__signature__ = signature(options)  # type: ignore[attr-defined]
    callback.__discord_app_commands_param_description__ = {  # type: ignore[attr-defined]
        o.name: o.description[:100] for o in options
    }
    return app_commands.Command(name=command.name, description=command.summary, callback=callback)


def signature(options: list[Option]) -> inspect.Signature:
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for option in options:
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
    if option.choices and len(option.choices) <= 25:
        return Literal[tuple(option.choices)]  # discord.py turns a Literal into choices
    return PYTHON_TYPES.get(option.type, str)
