"""The command registry: each capability contributes its list of commands here."""

from core.commands import (
    approvals,
    basics,
    calendar,
    linking,
    moderation,
    performance,
    publishing,
    scheduling,
    usage,
)
from core.commands.registry import Registry
from core.generation import commands as generation


def build_registry() -> Registry:
    return Registry(
        [
            *basics.COMMANDS,
            *generation.COMMANDS,
            *publishing.COMMANDS,
            *scheduling.COMMANDS,
            *calendar.COMMANDS,
            *usage.COMMANDS,
            *moderation.COMMANDS,
            *linking.COMMANDS,
            *performance.COMMANDS,
            *approvals.COMMANDS,
        ]
    )
