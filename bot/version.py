"""The installed version of the studio (the package metadata, so it is set in one place: pyproject)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def installed_version() -> str:
    try:
        return version("content-studio")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"
