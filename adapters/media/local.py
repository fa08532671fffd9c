"""Media kept on the local disk under DATA_DIR/media/<workspace>/ (an object store can replace it)."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from pathlib import Path

from core.media import SAFE_NAME


class LocalMediaStore:
    def __init__(self, root: Path) -> None:
        self._root = root

    async def save(self, workspace_id: str, name: str, data: bytes) -> str:
        folder = self._root / workspace_id.replace(":", "_")
        # A random prefix keeps two uploads with the same name apart and names unguessable.
        path = folder / f"{secrets.token_hex(6)}-{name}"
        await asyncio.to_thread(_write, path, data)
        return str(path)

    async def import_file(self, workspace_id: str, name: str, source: Path) -> str:
        """Copy in chunks (shutil) so a large video never sits in memory."""
        stem, dot, ext = name.rpartition(".")
        safe = (
            f"{SAFE_NAME.sub('_', stem)[:40] or 'file'}{dot}{ext.lower()}"
            if dot
            else SAFE_NAME.sub("_", name)
        )
        path = self._root / workspace_id.replace(":", "_") / f"{secrets.token_hex(6)}-{safe}"
        path.parent.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(shutil.copyfile, source, path)
        return str(path)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
