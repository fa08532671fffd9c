"""The command registry: each capability contributes its list of commands here."""

from core.commands import basics, scheduling
from core.commands.registry import Registry


def build_registry() -> Registry:
    return Registry([*basics.COMMANDS, *scheduling.COMMANDS])
