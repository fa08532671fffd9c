"""The short in-process memory of per-command loads: what it saves and how stale it may be."""

from __future__ import annotations

import pytest

from core.errors import StoreUnavailable
from core.generation.brand import BrandVoice, Profile, RecentProfiles
from core.recent import Recent
from core.workspaces import Actor, Role, WorkspaceService


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingWorkspaces:
    """A WorkspaceStore shared by several services, as Redis is shared by several processes."""

    def __init__(self) -> None:
        self.settings: dict[str, dict[str, str]] = {}
        self.members: dict[str, dict[str, str]] = {}
        self.touches = 0

    async def touch(self, workspace_id: str, actor: Actor) -> dict[str, str]:
        self.touches += 1
        self.members.setdefault(workspace_id, {})[actor.user_id] = actor.display_name
        return dict(self.settings.get(workspace_id, {}))

    async def save_settings(self, workspace_id: str, values: dict[str, str]) -> None:
        self.settings.setdefault(workspace_id, {}).update(values)

    async def list_members(self, workspace_id: str) -> dict[str, str]:
        return dict(self.members.get(workspace_id, {}))


ANN = Actor("tg:1", "Ann", Role.ADMIN)
BOB = Actor("tg:2", "Bob", Role.MEMBER)


def test_entries_expire_and_can_be_forgotten() -> None:
    ticks = Ticks()
    recent: Recent[str, int] = Recent(fresh_for=5, clock=ticks)
    recent.put("a", 1)
    ticks.now += 4.9
    assert recent.get("a") == 1
    ticks.now += 0.1
    assert recent.get("a") is None
    recent.put("b", 2)
    recent.forget("b")
    recent.forget("never there")
    assert recent.get("b") is None


def test_it_never_grows_past_its_bound() -> None:
    ticks = Ticks()
    recent: Recent[int, int] = Recent(fresh_for=5, clock=ticks, max_entries=3)
    for key in range(3):
        recent.put(key, key)
    ticks.now += 10  # all stale: the next put sweeps them
    recent.put(9, 9)
    assert [recent.get(k) for k in (0, 1, 2, 9)] == [None, None, None, 9]
    for key in range(10, 13):  # all fresh and over the bound: start over
        recent.put(key, key)
    assert len(recent._entries) <= 3 and recent.get(12) == 12


async def test_a_burst_of_commands_touches_the_store_once_per_member() -> None:
    ticks, store = Ticks(), CountingWorkspaces()
    service = WorkspaceService(store, "UTC", Recent(fresh_for=5, clock=ticks))
    for _ in range(3):
        await service.open("tg:9", "tg", "Team", ANN)
    assert store.touches == 1
    await service.open("tg:9", "tg", "Team", BOB)  # a new member is written
    await service.open("tg:9", "tg", "Team", Actor("tg:2", "Bobby", Role.MEMBER))  # and a new name
    await service.open("tg:9", "tg", "Team", BOB)
    assert store.touches == 3 and store.members["tg:9"] == {"tg:1": "Ann", "tg:2": "Bobby"}
    ticks.now += 5
    await service.open("tg:9", "tg", "Team", ANN)
    assert store.touches == 4


async def test_a_timezone_change_here_shows_at_once_and_elsewhere_within_the_window() -> None:
    ticks, store = Ticks(), CountingWorkspaces()
    here = WorkspaceService(store, "UTC", Recent(fresh_for=5, clock=ticks))
    elsewhere = WorkspaceService(store, "UTC", Recent(fresh_for=5, clock=ticks))
    workspace = await here.open("tg:9", "tg", "Team", ANN)
    assert (await elsewhere.open("tg:9", "tg", "Team", ANN)).timezone == "UTC"
    await here.set_timezone(workspace, ANN, "europe/berlin")
    assert (await here.open("tg:9", "tg", "Team", ANN)).timezone == "Europe/Berlin"
    assert (await elsewhere.open("tg:9", "tg", "Team", ANN)).timezone == "UTC"  # stale, briefly
    ticks.now += 5
    assert (await elsewhere.open("tg:9", "tg", "Team", ANN)).timezone == "Europe/Berlin"


class CountingProfiles:
    def __init__(self) -> None:
        self.stored: dict[str, Profile] = {}
        self.loads = 0
        self.fail = False

    async def load(self, workspace_id: str) -> Profile:
        self.loads += 1
        return self.stored.get(workspace_id, Profile())

    async def save(self, workspace_id: str, profile: Profile) -> None:
        if self.fail:
            raise StoreUnavailable("down")
        self.stored[workspace_id] = profile


async def test_profiles_are_loaded_once_per_window_and_saves_show_at_once() -> None:
    ticks, store = Ticks(), CountingProfiles()
    profiles = RecentProfiles(store, Recent(fresh_for=5, clock=ticks))
    assert await profiles.load("w") == Profile()
    assert await profiles.load("w") == Profile()
    assert store.loads == 1
    loud = Profile(BrandVoice(description="loud"))
    await profiles.save("w", loud)
    assert await profiles.load("w") == loud and store.loads == 1
    ticks.now += 5
    assert await profiles.load("w") == loud and store.loads == 2


async def test_a_failed_profile_save_is_not_remembered() -> None:
    store = CountingProfiles()
    profiles = RecentProfiles(store, Recent(fresh_for=5, clock=Ticks()))
    await profiles.load("w")
    store.fail = True
    with pytest.raises(StoreUnavailable):
        await profiles.save("w", Profile(BrandVoice(description="never stored")))
    assert await profiles.load("w") == Profile() and store.loads == 2
