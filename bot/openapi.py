"""The OpenAPI document of the studio's HTTP server, served at `/openapi.json` and written to
`docs/API.md` by `python -m bot.reference`. A test checks that every route the server has is in it."""

from __future__ import annotations

from typing import Any

TEXT = {"text/plain": {"schema": {"type": "string"}}}
JSON_STATUS = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {"status": {"type": "string"}, "redis": {"type": "string"}},
            "required": ["status"],
        }
    }
}
BLOCKED = {"description": "the client address is blocked after repeated failed requests", "content": TEXT}


def operation(summary: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "responses": {**responses, "403": BLOCKED}, **extra}


def openapi_document(version: str, oauth_platforms: list[str], webhook_path: str = "") -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/healthz": {
            "get": operation(
                "Liveness: the process answers and Redis is reachable",
                {
                    "200": {"description": "healthy", "content": JSON_STATUS},
                    "503": {"description": "Redis unavailable", "content": JSON_STATUS},
                },
            )
        },
        "/readyz": {
            "get": operation(
                "Readiness: not shutting down, and Redis answers within a second",
                {
                    "200": {"description": "ready", "content": JSON_STATUS},
                    "503": {"description": "draining, or Redis unavailable", "content": JSON_STATUS},
                },
            )
        },
        "/metrics": {
            "get": operation(
                "Counters in Prometheus text format (requests, blocks, timeouts, connections)",
                {
                    "200": {"description": "metrics", "content": {"text/plain; version=0.0.4": {}}},
                    "401": {"description": "METRICS_TOKEN is set and the bearer token is wrong"},
                },
                security=[{}, {"metricsToken": []}],
            )
        },
        "/favicon.ico": {
            "get": operation(
                "Answered empty, so browsers never collect strikes", {"204": {"description": "nothing"}}
            )
        },
        "/robots.txt": {
            "get": operation("Keeps crawlers away", {"200": {"description": "Disallow: /", "content": TEXT}})
        },
        "/openapi.json": {
            "get": operation(
                "This document",
                {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
            )
        },
    }
    for platform in oauth_platforms:
        paths[f"/oauth/{platform}/callback"] = {"get": oauth_callback(platform)}
    if webhook_path:
        paths[webhook_path] = {"post": telegram_webhook()}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Content Studio HTTP server",
            "version": version,
            "description": "OAuth callbacks, the Telegram webhook and health endpoints. Everything "
            "else happens in the chat; this server has no API for people.",
        },
        "paths": paths,
        "components": {"securitySchemes": {"metricsToken": {"type": "http", "scheme": "bearer"}}},
    }


def oauth_callback(platform: str) -> dict[str, Any]:
    query = [
        {"name": "code", "in": "query", "schema": {"type": "string", "maxLength": 2048}},
        {"name": "state", "in": "query", "schema": {"type": "string", "maxLength": 4096}},
        {"name": "error", "in": "query", "schema": {"type": "string"}},
        {"name": "error_description", "in": "query", "schema": {"type": "string"}},
    ]
    return operation(
        f"Where {platform}'s login page sends the person back (redirect URI of the /connect link)",
        {
            "200": {"description": "connected; the page says which accounts", "content": TEXT},
            "400": {"description": "cancelled, no code, or a forged, expired or used state", "content": TEXT},
            "503": {"description": "the store is unavailable; the state is kept", "content": TEXT},
        },
        parameters=query,
    )


def telegram_webhook() -> dict[str, Any]:
    return operation(
        "Telegram's webhook (TELEGRAM_WEBHOOK_URL's path): one Update per request",
        {
            "200": {"description": "queued; answered at once so Telegram does not retry"},
            "400": {"description": "not a JSON Telegram update", "content": TEXT},
        },
        parameters=[
            {
                "name": "X-Telegram-Bot-Api-Secret-Token",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
                "description": "the webhook secret; requests without it are refused and counted",
            }
        ],
        requestBody={"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
    )
