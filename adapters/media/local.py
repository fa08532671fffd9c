"""Media kept on the local disk under DATA_DIR/media/<workspace>/ (an object store can replace it)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    async def save(self, workspace_id: str, name: str, data: bytes) -> str:
        folder = self._root / workspace_id.replace(":", "_")
        # A random prefix keeps two uploads with the same name apart and names unguessable.
        path = folder / f"{secrets.token_hex(6)}-{name}"
        await asyncio.to_thread(_write, path, data)
        return str(path)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
