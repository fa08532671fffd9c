"""Generated docs stay in step with the code: the commands reference and the README's settings table."""

from __future__ import annotations

from bot.reference import README, commands_markdown, main, readme_with_settings, settings_markdown, stale
from bot.settings import Settings
from core.commands import build_registry


def test_generated_docs_are_current() -> None:
    assert stale() == [], "run: python -m bot.reference"
    assert main(["--check"]) == 0


def test_commands_reference_names_every_command_with_its_usage() -> None:
    registry = build_registry()
    text = commands_markdown(registry.all())
    for command in registry.all():
        assert f"### /{command.name}\n" in text
        assert command.usage() in text


def test_settings_table_has_every_setting_once() -> None:
    table = settings_markdown()
    for name in Settings.model_fields:
        assert table.count(f"| `{name.upper()}` |") == 1
    assert readme_with_settings(README.read_text()).count("<!-- settings:start") == 1


def test_every_setting_says_what_it_is_for() -> None:
    assert [name for name, info in Settings.model_fields.items() if not info.description] == []
