"""The release artefacts: the version flag, and a wheel that carries everything the studio needs
at run time (Lua scripts, entry points of the built-in plug-ins, the console script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[1]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def test_version_flag_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"content-studio {VERSION}"


SOURCES = ("pyproject.toml", "README.md", "LICENSE", "bot", "core", "adapters")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built from a copy of the sources: setuptools writes build/ and content_studio.egg-info/
    beside pyproject.toml, and the repository is on every test's sys.path, so a build there
    rewrites the entry points other tests (other xdist workers) are reading at that moment."""
    tree, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    junk = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in SOURCES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=junk)
        else:
            shutil.copy2(source, tree / name)
    # --no-isolation: the build backend is the dev extra's setuptools, so no download is needed.
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(tree)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("content_studio-*.whl")
    return built


def test_wheel_carries_scripts_entry_points_and_the_console_command(wheel: Path) -> None:
    assert wheel.name.startswith(f"content_studio-{VERSION}-")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        info = f"content_studio-{VERSION}.dist-info"
        entry_points = archive.read(f"{info}/entry_points.txt").decode()
    assert {"bot/cli.py", "core/commands/registry.py", "adapters/redis/lua/record.lua"} <= names
    assert not any(name.startswith("tests/") for name in names)
    assert "content-studio = bot.cli:main" in entry_points
    for plugin in ("facebook = adapters.social.facebook", "openai = adapters.ai.openai_provider"):
        assert plugin in entry_points


def test_installed_wheel_runs_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target)]
    subprocess.run([*pip, str(wheel)], check=True, timeout=120)
    probe = "import bot.cli, sys; print(bot.cli.__file__); sys.exit(bot.cli.main(['--help']))"
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    first, *rest = done.stdout.splitlines()
    assert first.startswith(str(target))  # the wheel's copy, not the source tree's
    assert "usage: content-studio" in "\n".join(rest)
