"""Is the configured AI provider reachable with the configured key? Used by `doctor`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bot.settings import Settings

KEY_SETTING = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "mistral": "MISTRAL_API_KEY",
}


async def check_provider(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[bool, str, str]:
    provider = settings.ai_provider
    key_setting = KEY_SETTING.get(provider)
    if key_setting is None:
        return True, f"{provider} (plug-in; not probed)", ""
    key = getattr(settings, key_setting.lower())
    if key is None:
        return False, f"{provider}: {key_setting} is not set", f"set {key_setting} in .env"
    url, headers = _probe(settings, provider, key.get_secret_value())
    try:
        async with httpx.AsyncClient(transport=transport, timeout=5) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return (
            False,
            f"{provider}: cannot reach {url} ({type(exc).__name__})",
            "check the base URL and the network",
        )
    if response.status_code in (401, 403):
        return (
            False,
            f"{provider}: the key was rejected ({response.status_code})",
            f"check {key_setting}",
        )
    if response.status_code >= 400:
        return False, f"{provider}: {url} answered {response.status_code}", "check the base URL"
    return True, f"{provider} at {url} answered, model {settings.ai_model}", ""


def _probe(settings: Settings, provider: str, key: str) -> tuple[str, dict[str, str]]:
    if provider == "anthropic":
        return f"{settings.anthropic_base_url}/v1/models", {
            "x-api-key": key,
            "anthropic-version": "2023-06-01",
        }
    base = settings.openai_base_url if provider == "openai" else f"{settings.mistral_base_url}/v1"
    return f"{base}/models", {"Authorization": f"Bearer {key}"}
