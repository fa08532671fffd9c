"""The console's first-run message, against a local Ollama-compatible server (aiohttp) or none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot.firstrun import first_run_message, provider_configured
from bot.settings import Settings
from tests.conftest import free_port


def make(tmp_path: Path, **values: Any) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path, secret_key="x" * 40, **values)  # type: ignore[call-arg]


async def serve_tags(payload: object) -> tuple[web.AppRunner, str]:
    async def tags(request: web.Request) -> web.Response:
        return web.json_response(payload)

    app = web.Application()
    app.router.add_get("/api/tags", tags)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def test_configured_providers_get_no_message(tmp_path: Path) -> None:
    assert provider_configured(make(tmp_path, openai_api_key="sk-test-1234567890"))
    assert provider_configured(make(tmp_path, openai_base_url="http://127.0.0.1:11434/v1"))
    assert provider_configured(make(tmp_path, ai_provider="acme"))  # a plug-in knows its own needs
    assert not provider_configured(make(tmp_path, ai_provider="anthropic"))
    assert not provider_configured(make(tmp_path))


async def test_no_server_says_how_to_get_going_in_one_message(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    message = await first_run_message(make(tmp_path, ollama_url=f"http://127.0.0.1:{free_port()}"), http)
    assert message is not None and "\n" not in message
    assert "OPENAI_API_KEY=" in message and "OPENAI_BASE_URL" in message


async def test_a_local_ollama_is_offered_with_its_models(tmp_path: Path, http: httpx.AsyncClient) -> None:
    runner, url = await serve_tags({"models": [{"name": "llama3.1:8b"}, {"name": "qwen2.5:7b"}]})
    try:
        message = await first_run_message(make(tmp_path, ollama_url=url), http)
    finally:
        await runner.cleanup()
    assert message is not None
    assert "llama3.1:8b, qwen2.5:7b" in message
    assert f"OPENAI_BASE_URL={url}/v1" in message and "AI_MODEL=llama3.1:8b" in message
    assert "/ai openai <model>" in message


@pytest.mark.parametrize("payload", [{"models": []}, {"unexpected": True}])
async def test_an_ollama_without_models_says_to_pull_one(
    tmp_path: Path, http: httpx.AsyncClient, payload: object
) -> None:
    runner, url = await serve_tags(payload)
    try:
        message = await first_run_message(make(tmp_path, ollama_url=url), http)
    finally:
        await runner.cleanup()
    assert message is not None and "ollama pull" in message


async def test_a_non_json_answer_counts_as_no_server(tmp_path: Path, http: httpx.AsyncClient) -> None:
    runner, url = await serve_tags(None)
    try:
        message = await first_run_message(make(tmp_path, ollama_url=url), http)
    finally:
        await runner.cleanup()
    assert message is not None and "Ollama server answers" not in message
