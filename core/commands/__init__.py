"""The command registry: each capability contributes its list of commands here."""

from core.commands import basics, publishing, usage
from core.commands.registry import Registry
from core.generation import commands as generation


def build_registry() -> Registry:
    return Registry([*basics.COMMANDS, *generation.COMMANDS, *usage.COMMANDS, *publishing.COMMANDS])
