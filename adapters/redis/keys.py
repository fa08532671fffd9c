"""The one place Redis keys are built. Workspace keys carry a hash tag (`cs:{ws:<id>}:...`) so
every key of one workspace lives on one Redis Cluster slot and a Lua script may touch several."""

from __future__ import annotations


class Keys:
    def __init__(self, prefix: str = "cs") -> None:
        self.prefix = prefix

    def workspace(self, workspace_id: str, *parts: str) -> str:
        return ":".join([f"{self.prefix}:{{ws:{workspace_id}}}", *parts])

    def workspace_of(self, key: str, *parts: str) -> str | None:
        """The workspace id of a key built by `workspace(<id>, *parts)`, or None for any other
        key (what a SCAN over `workspace("*", *parts)` may also match)."""
        head, tail = f"{self.prefix}:{{ws:", "}:" + ":".join(parts)
        if not (key.startswith(head) and key.endswith(tail)):
            return None
        workspace_id = key[len(head) : len(key) - len(tail)]
        return workspace_id if workspace_id and "}" not in workspace_id else None

    def pipeline(self, *parts: str) -> str:
        """The publish pipeline's shared keys (lease, epoch counter, streams, job store), all
        under one hash tag: the lease-fenced enqueue script touches three of them at once."""
        return ":".join([f"{self.prefix}:{{pipeline}}", *parts])

    def common(self, *parts: str) -> str:
        """Keys that belong to no single workspace (leases, OAuth nonces, the job store)."""
        return ":".join([self.prefix, *parts])
