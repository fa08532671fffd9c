from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from bot.bootstrap import Studio
from bot.console import Console, ConsoleIdentity, ConsoleNotifier, ConsoleProgress, render
from core.commands.registry import Command, Context, NoArgs
from core.reply import Attachment, Button, Reply
from core.workspaces import Role
from tests.conftest import free_port, process_env

CLI = [sys.executable, "-m", "bot.cli"]
ROOT = Path(__file__).resolve().parents[1]


def console_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    defaults = {"DATA_DIR": str(tmp_path / "data"), "SECRET_KEY": "k" * 40, "HTTP_PORT": str(free_port())}
    return process_env(**{**defaults, "PYTHONPATH": str(ROOT), **extra})


def run_console(tmp_path: Path, stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "console", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=console_env(tmp_path, **env),
        cwd=tmp_path,
        timeout=120,
    )


def test_piped_console_prints_help_and_identity_and_exits_zero(tmp_path: Path) -> None:
    done = run_console(tmp_path, "/help\n/whoami\n", REDIS_URL="memory://")
    assert done.returncode == 0, done.stderr
    assert "/timezone - Show or set the workspace timezone" in done.stdout
    assert "You are console (console:console), admin of workspace console:console" in done.stdout
    assert "Traceback" not in done.stderr


def test_console_options_set_user_workspace_and_role(tmp_path: Path) -> None:
    done = run_console(
        tmp_path,
        "/whoami\n/timezone UTC\n",
        "--user",
        "ann",
        "--workspace",
        "shop",
        "--role",
        "member",
        REDIS_URL="memory://",
    )
    assert "You are ann (console:ann), member of workspace console:shop" in done.stdout
    assert "Only workspace admins can change the workspace timezone." in done.stdout


def test_embedded_redis_keeps_state_between_console_runs(tmp_path: Path) -> None:
    first = run_console(tmp_path, "/timezone Europe/Berlin\n")
    assert "Timezone set to Europe/Berlin" in first.stdout, first.stderr
    assert "embedded Redis" in first.stderr
    second = run_console(tmp_path, "/timezone\n")
    assert "This workspace's timezone is Europe/Berlin" in second.stdout, second.stderr
    # The server stopped with the last command using it (it used to outlive every run).
    registry = json.loads((tmp_path / "data" / "redis.db.settings").read_text())
    assert not Path(registry["unixsocket"]).exists()


async def test_console_renders_buttons_attachments_and_streams(studio: Studio, tmp_path: Path) -> None:
    async def card(ctx: Context, args: NoArgs) -> Reply:
        await ctx.progress.update("writing...")
        png = Attachment("chart.png", b"\x89PNG fake", "image/png")
        return Reply("Draft ab12", (Button("Discard", "/discard ab12"),), png)

    studio.dispatcher.registry.add(Command("card", "Show a card", card))
    out = io.StringIO()
    console = Console(studio.dispatcher, ConsoleIdentity(), tmp_path / "exports", out)
    await console.run(io.StringIO("# a comment\n\n/card\nexit\n/whoami\n"), interactive=False)
    text = out.getvalue()
    assert text.startswith("writing...\nDraft ab12\n  [Discard] /discard ab12\n  (saved image/png to ")
    assert (tmp_path / "exports" / "chart.png").read_bytes() == b"\x89PNG fake"
    assert "You are" not in text  # input after `exit` is not run


async def test_team_notifications_are_marked_lines() -> None:
    out = io.StringIO()
    await ConsoleNotifier(out).notify("console:console", "Post published", (Button("Open", "/status p1"),))
    assert out.getvalue() == (
        "[team console:console] Post published\n[team console:console]   [Open] /status p1\n"
    )


async def test_progress_and_render_without_extras(tmp_path: Path) -> None:
    out = io.StringIO()
    progress = ConsoleProgress(out)
    await progress.update("a")
    await progress.update("b")
    assert out.getvalue() == "ab" and progress.wrote
    assert render(Reply("plain"), tmp_path) == "plain"
    assert ConsoleIdentity(role=Role.MEMBER).caller().workspace_id == "console:console"
