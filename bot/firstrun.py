"""The console's first words to a newcomer who has not configured an AI provider yet: how to get
going, in one message, and — when a local Ollama server answers — which of its models to use."""

from __future__ import annotations

import httpx

from bot.settings import Settings

OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
KEYED_BUILTINS = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "mistral": "MISTRAL_API_KEY"}
PROBE_SECONDS = 0.5  # a newcomer's console must not wait on a server that is not there


def provider_configured(settings: Settings) -> bool:
    """A built-in provider needs its key, except OpenAI pointed at another (local) server;
    a plug-in's needs are its own, so it counts as configured."""
    key_name = KEYED_BUILTINS.get(settings.ai_provider)
    if key_name is None:
        return True
    if getattr(settings, f"{settings.ai_provider}_api_key") is not None:
        return True
    return settings.ai_provider == "openai" and settings.openai_base_url != OPENAI_DEFAULT_BASE


async def ollama_models(base_url: str, http: httpx.AsyncClient) -> list[str] | None:
    """The models a local Ollama server lists (`GET /api/tags`), or None when nothing answers."""
    try:
        response = await http.get(f"{base_url.rstrip('/')}/api/tags", timeout=PROBE_SECONDS)
        response.raise_for_status()
        models = response.json().get("models", [])
        return [str(m["name"]) for m in models if isinstance(m, dict) and m.get("name")]
    except (httpx.HTTPError, ValueError, AttributeError):
        return None


async def first_run_message(settings: Settings, http: httpx.AsyncClient) -> str | None:
    if provider_configured(settings):
        return None
    models = await ollama_models(settings.ollama_url, http)
    lines = [
        f"No AI provider is configured yet, so /generate cannot write anything. "
        f"Add {KEYED_BUILTINS.get(settings.ai_provider, 'OPENAI_API_KEY')}=<your key> to .env, "
        "or point OPENAI_BASE_URL at a local OpenAI-compatible server (Ollama, vLLM, LM Studio)."
    ]
    if models:
        base = settings.ollama_url.rstrip("/")
        lines.append(
            f"An Ollama server answers at {base} with {len(models)} model(s): {', '.join(models[:10])}. "
            f"To use it, put OPENAI_BASE_URL={base}/v1 and AI_MODEL={models[0]} (or another of them) "
            "in .env and start the console again; then `/ai openai <model>` switches a workspace "
            "to another of them."
        )
    elif models == []:
        base = settings.ollama_url.rstrip("/")
        lines.append(f"An Ollama server answers at {base} but has no models: `ollama pull llama3.1` first.")
    return "\n".join(lines)
