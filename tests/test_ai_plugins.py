"""Providers are entry-point plug-ins: the built-ins are registered that way, and a separately
installed distribution (built and `pip install --target`-ed here) adds one without code changes."""

from __future__ import annotations

import base64
import hashlib
import importlib
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from adapters.ai.catalog import GROUP, ProviderCatalog
from bot.bootstrap import build_studio, provider_configurer
from bot.settings import Settings
from core.errors import ConfigurationError
from core.generation.ports import Message, Prompt, ProviderConfig
from tests.conftest import FakeClock, RecordingNotifier, run

PLUGIN = """
from core.generation.ports import Generation, Usage


class EchoGenerator:
    provider = "echo"

    def __init__(self, config):
        self.model = config.model
        self.greeting = config.env.get("ECHO_GREETING", "echo")
        self.key = config.api_key

    async def generate(self, prompt):
        return Generation(f"{self.greeting} from {self.model}", self.model, Usage(3, 5), "stop")

    async def stream(self, prompt):
        result = await self.generate(prompt)
        yield result.text
        yield result


def create(config):
    return EchoGenerator(config)
"""


def build_wheel(folder: Path) -> Path:
    """A real wheel of a one-module distribution declaring a provider entry point."""
    files = {
        "studio_echo_provider.py": PLUGIN,
        "studio_echo-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: studio-echo\nVersion: 1.0\n",
        "studio_echo-1.0.dist-info/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
        "studio_echo-1.0.dist-info/entry_points.txt": f"[{GROUP}]\necho = studio_echo_provider:create\n",
    }
    record = [f"{name},sha256={_digest(text)},{len(text.encode())}" for name, text in files.items()]
    files["studio_echo-1.0.dist-info/RECORD"] = "\n".join([*record, "studio_echo-1.0.dist-info/RECORD,,", ""])
    wheel = folder / "studio_echo-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return wheel


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plugin")
    target = folder / "site"
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-index",
        "--target",
        str(target),
    ]
    subprocess.run([*command, str(build_wheel(folder))], check=True, capture_output=True, timeout=120)
    return target


@pytest.fixture
def installed(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(plugin_dir))
    importlib.invalidate_caches()
    return plugin_dir


def configure(name: str, model: str) -> ProviderConfig:
    return ProviderConfig(name, model, api_key="k", env={"ECHO_GREETING": "hello"})


def test_built_in_providers_are_registered_as_entry_points() -> None:
    names = {ep.name: ep.value for ep in metadata.entry_points(group=GROUP)}
    assert names["openai"] == "adapters.ai.openai_provider:create"
    assert names["anthropic"] == "adapters.ai.anthropic:create"
    assert names["mistral"] == "adapters.ai.mistral:create"


async def test_an_installed_plugin_is_found_and_used(installed: Path) -> None:
    catalog = ProviderCatalog(configure)
    assert {"openai", "anthropic", "mistral", "echo"} <= set(catalog.names())
    generator = catalog.open("echo", "echo-1")
    assert catalog.open("echo", "echo-1") is generator
    result = await generator.generate(Prompt("s", (Message("user", "u"),)))
    assert result.text == "hello from echo-1"
    assert (
        await catalog.check("echo", "echo-1")
        == "echo plug-in loaded (it has no reachability check); model echo-1"
    )


async def test_the_studio_generates_with_a_plugin_chosen_by_ai_provider(
    installed: Path, tmp_path: Path, fake_redis: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from adapters.redis.connection import RedisHandle

    monkeypatch.setenv("ECHO_API_KEY", "echo-secret")
    monkeypatch.setenv("ECHO_GREETING", "hi")
    settings = Settings(_env_file=None, data_dir=tmp_path, ai_provider="echo", ai_model="e1")  # type: ignore[call-arg]
    studio = await build_studio(
        settings,
        notifier=RecordingNotifier(),
        clock=FakeClock(),
        redis=RedisHandle(fake_redis, "memory://"),  # type: ignore[arg-type]
    )
    reply = await run(studio, "/generate a post about plug-ins")
    assert "hi from e1" in reply.text and "e1 via echo" in reply.text
    config = provider_configurer(settings, {"ECHO_API_KEY": "echo-secret"})("echo", "e1")
    assert config.api_key == "echo-secret"
    await studio.close()


def test_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        ProviderCatalog(configure).open("nope", "m")
    assert caught.value.setting == "AI_PROVIDER" and "openai" in str(caught.value)


def test_a_broken_plugin_is_a_configuration_error_not_a_crash() -> None:
    broken = metadata.EntryPoint("broken", "no_such_module_xyz:create", GROUP)
    with pytest.raises(ConfigurationError, match="could not be loaded"):
        ProviderCatalog(configure, [broken]).open("broken", "m")
