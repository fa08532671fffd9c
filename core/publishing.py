"""Publishing a draft now: pick the platform adapter by account, validate, confirm, publish.

`DispatchingPublisher` is the `PostPublisher` the scheduler also uses; `PublishingService.publish_now`
is the whole /publish flow in one method so it can later be routed through the post lifecycle store."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.accounts import Account, AccountService, Health
from core.drafts import Draft, DraftStore
from core.errors import (
    BadInput,
    CoreError,
    OutcomeUnknown,
    PublishRejected,
    RateLimited,
    TokenExpired,
    format_wait,
)
from core.media import check_for_platform
from core.platforms import Platforms
from core.ports import Clock, Progress
from core.posts import (
    Capabilities,
    PlatformPublisher,
    Post,
    PostPublisher,
    Preflight,
    PublishAttempt,
    PublishResult,
)
from core.reply import Button, Reply
from core.workspaces import Actor, Workspace

log = logging.getLogger(__name__)
MAX_BUTTON_BYTES = 64
DRY_RUN_BANNER = (
    "DRY RUN (PUBLISH_DRY_RUN=true): nothing was sent to any platform, and checks that need the "
    "platform (such as TikTok's creator info) were skipped."
)


class DispatchingPublisher:
    """The `PostPublisher` port over every installed platform adapter, chosen by the account's
    platform. A rejected token marks the account unhealthy here, once for every platform."""

    def __init__(self, platforms: Platforms, accounts: AccountService) -> None:
        self.platforms = platforms
        self._accounts = accounts

    def adapter(self, platform: str) -> PlatformPublisher:
        found = self.platforms.find(platform)
        if found is None:
            raise BadInput(
                f"No publisher for {platform!r} is installed; installed: {self.platforms.listed()}."
            )
        return found.publisher

    def capabilities(self, platform: str) -> Capabilities:
        return self.adapter(platform).capabilities

    async def validate(self, post: Post) -> None:
        validate_locally(post, self.capabilities(post.platform))
        await self._call(post, "validate")

    async def preflight(self, post: Post) -> Preflight:
        result: Preflight = await self._call(post, "preflight")
        return result

    async def publish(self, post: Post, attempt: PublishAttempt) -> PublishResult:
        result: PublishResult = await self._call(post, "publish", attempt)
        return result

    async def reconcile(self, post: Post, attempt: PublishAttempt) -> PublishResult | None:
        result: PublishResult | None = await self._call(post, "reconcile", attempt)
        return result

    async def _call(self, post: Post, method: str, *extra: Any) -> Any:
        adapter = self.adapter(post.platform)
        credentials = await self._accounts.credentials(post.workspace_id, post.account_id)
        try:
            return await getattr(adapter, method)(post, credentials, *extra)
        except TokenExpired as exc:
            await self._accounts.mark_unhealthy(post.workspace_id, post.account_id, str(exc))
            raise


def validate_locally(post: Post, caps: Capabilities) -> None:
    """The platform's documented limits that need no network call."""
    if post.media and len(post.media) > caps.max_photos and all(m.kind == "photo" for m in post.media):
        raise BadInput(f"{caps.platform} takes at most {caps.max_photos} photo(s) per post.")
    if sum(m.kind == "video" for m in post.media) > 1 or (
        any(m.kind == "video" for m in post.media) and len(post.media) > 1
    ):
        raise BadInput("A post can carry one video, or photos, not both.")
    for media in post.media:
        check_for_platform(media, caps)
        if not media.path.startswith(("https://", "http://")) and not Path(media.path).is_file():
            raise BadInput(f"The attached {media.kind} is no longer on disk; attach it to the draft again.")
    if post.options.get("link") and not caps.link:
        raise BadInput(f"{caps.platform} posts cannot carry a link; leave out --link for {caps.platform}.")
    if not post.media and not caps.text:
        raise BadInput(f"{caps.platform} cannot post text alone; attach a video or photo with /attach.")
    if not post.media and not post.text.strip():
        raise BadInput("The draft is empty; there is nothing to publish.")
    if len(post.text) > caps.max_text_chars:
        raise BadInput(
            f"The text is {len(post.text)} characters; {caps.platform} takes at most {caps.max_text_chars}."
        )


@dataclass(frozen=True)
class PublishRequest:
    draft_id: str
    targets: tuple[str, ...]
    options: dict[str, str] = field(default_factory=dict)
    confirmed: bool = False


class PostCounter(Protocol):
    """Posts published per account per UTC day (`day` is YYYY-MM-DD)."""

    async def count(self, workspace_id: str, account_id: str, day: str) -> int: ...

    async def add(self, workspace_id: str, account_id: str, day: str) -> None: ...


class PostLedger(Protocol):
    """Where /publish keeps its posts: the scheduler's post store, so an immediate post is
    claimed before the platform is called, shows in /status, and is reconciled after a crash."""

    async def opened(self, post: Post, actor: Actor) -> Post: ...

    async def published(self, post: Post, result: PublishResult) -> None: ...

    async def failed(self, post: Post, reason: str) -> None: ...

    def attempt(self, post: Post) -> PublishAttempt:
        """Where the adapter reports the platform's handle, stored as soon as it exists."""
        ...

    async def unknown(self, post: Post, reason: str) -> None:
        """The platform may have the post and cannot say: the team decides."""
        ...

    async def submitted(self, post: Post, actor: Actor) -> Post:
        """Store a post to publish once an admin approves it (approvals are on)."""
        ...


class Hold(Protocol):
    """Approvals for one /publish: which posts wait for an admin, and telling the admins."""

    def applies(self, post: Post) -> bool: ...

    async def announce(self, posts: list[Post]) -> None: ...


@dataclass
class PublishingService:
    publisher: DispatchingPublisher
    accounts: AccountService
    drafts: DraftStore
    clock: Clock
    ledger: PostLedger
    dry_run: bool = False
    dry_run_log: list[Post] = field(default_factory=list)
    counter: PostCounter | None = None

    def _today(self) -> str:
        return self.clock.now().astimezone(UTC).strftime("%Y-%m-%d")

    async def _check_daily_cap(self, post: Post) -> None:
        platform = self.publisher.platforms.find(post.platform)
        cap = platform.daily_post_cap if platform is not None else 0
        if not cap or self.counter is None:
            return
        done = await self.counter.count(post.workspace_id, post.account_id, self._today())
        if done >= cap:
            raise BadInput(
                f"{post.account_id} already published {done} posts today (UTC), the {post.platform} daily "
                f"cap this studio is set to ({cap}); publish again tomorrow."
            )

    async def publish_now(
        self,
        workspace: Workspace,
        actor: Actor,
        request: PublishRequest,
        progress: Progress | None = None,
        hold: Hold | None = None,
    ) -> Reply:
        """/publish: validate every target, ask for confirmation, then publish and report. A
        post `hold` picks (approvals are on) is stored for an admin to approve instead."""
        draft = await self.drafts.get(workspace.id, request.draft_id)
        accounts = await self._targets(workspace, request.targets)
        check_options(request.options, {a.platform for a in accounts}, self.publisher.platforms)
        posts = [self._post(workspace, actor, draft, account, request.options) for account in accounts]
        for account, post in zip(accounts, posts, strict=True):
            await self._check(account, post)
        if not request.confirmed:
            waits = hold is not None and not self.dry_run and all(hold.applies(p) for p in posts)
            return self._banner(await self._confirmation(request, accounts, posts, waits))
        for post in posts:
            await self._check_choices(post)
        lines, buttons = [], []
        held: list[Post] = []
        for post in posts:
            if hold is not None and hold.applies(post) and not self.dry_run:
                held.append(await self.ledger.submitted(post, actor))
                lines.append(f"{post.account_id}: sent to the admins for approval as post {held[-1].id}.")
                buttons.append(Button(f"Status {held[-1].id}", f"/status {held[-1].id}"))
                continue
            if progress is not None and not self.dry_run:
                await progress.update(f"Publishing to {post.account_id}…\n")
            line, post_buttons = await self._publish_one(actor, post)
            lines.append(line)
            buttons += post_buttons
        if held and hold is not None:
            lines.append("It is published as soon as an admin approves it.")
            await hold.announce(held)
        return self._banner(Reply("\n".join(lines), tuple(buttons)))

    async def _targets(self, workspace: Workspace, targets: tuple[str, ...]) -> list[Account]:
        if not targets:
            raise BadInput(
                f"Name where to publish: {self.publisher.platforms.listed()} or an account from /accounts."
            )
        found: dict[str, Account] = {}
        for target in targets:
            for account in await self.accounts.find(workspace, target):
                found.setdefault(account.id, account)
        return list(found.values())

    def _options_of(self, platform: str) -> frozenset[str]:
        found = self.publisher.platforms.find(platform)
        return found.options if found is not None else frozenset()

    def _post(
        self, workspace: Workspace, actor: Actor, draft: Draft, account: Account, options: dict[str, str]
    ) -> Post:
        return Post(
            id=secrets.token_hex(4),
            workspace_id=workspace.id,
            draft_id=draft.id,
            account_id=account.id,
            author_id=actor.user_id,
            text=draft.text,
            options={k: v for k, v in options.items() if k in self._options_of(account.platform)},
            media=list(draft.media),
            timezone=workspace.timezone,
        )

    async def _check(self, account: Account, post: Post) -> None:
        if account.health(self.clock.now()) is Health.UNHEALTHY:
            raise BadInput(
                f"{account.id} is unhealthy ({account.unhealthy_reason or 'token expired'}); "
                f"an admin must reconnect the {self.publisher.platforms.noun(account.platform)} "
                f"with {self.publisher.platforms.reconnect(account.platform)}."
            )
        if self.dry_run:
            validate_locally(post, self.publisher.capabilities(post.platform))
        else:
            await self._check_daily_cap(post)
            await self.publisher.validate(post)

    async def _confirmation(
        self, request: PublishRequest, accounts: list[Account], posts: list[Post], held: bool = False
    ) -> Reply:
        lines = [f"Ready to publish draft {request.draft_id}:"]
        buttons: list[Button] = []
        missing = False
        choices: set[str] = set()
        for account, post in zip(accounts, posts, strict=True):
            flight = Preflight() if self.dry_run else await self.publisher.preflight(post)
            lines.append(f"- {account.name} ({account.id}): {describe(post)}")
            lines += [f"  {note}" for note in flight.notes]
            ask, buttons_for = missing_choice(flight, post.options, lambda extra: command(request, extra))
            if ask:
                missing = True
                choices.add(f"{post.platform} {flight.choice_option}")
            lines += ask
            buttons += buttons_for
            if flight.consent:
                lines.append(f"  {flight.consent}")
        if not missing and held:  # approvals are on: --yes sends it to the admins
            confirm = command(request, {}, yes=True)
            lines.append(
                f"Send {confirm} to submit it for approval; it is published once an admin approves it."
            )
            buttons.append(Button("Submit for approval", confirm))
        elif not missing:
            confirm = command(request, {}, yes=True)
            lines.append(f"Send {confirm} to publish.")
            buttons.append(Button("Publish now", confirm))
        return Reply(
            "\n".join(lines),
            tuple(b for b in buttons if len(b.command.encode()) <= MAX_BUTTON_BYTES),
            choice="Choose " + ", ".join(sorted(choices)) if missing else "",
        )

    async def _check_choices(self, post: Post) -> None:
        if self.dry_run:
            return
        flight = await self.publisher.preflight(post)
        if flight.choice_option and flight.choice_option not in post.options:
            raise BadInput(
                f"Choose --{flight.choice_option} for {post.account_id}: {', '.join(flight.choices)}."
            )

    async def _publish_one(self, actor: Actor, post: Post) -> tuple[str, list[Button]]:
        """One account's line of the answer, and the post card's buttons."""
        if self.dry_run:
            self.dry_run_log.append(post)
            log.info(
                "dry run: would publish draft %s to %s: %s", post.draft_id, post.account_id, describe(post)
            )
            return f"{post.account_id}: would send {describe(post)}", []
        post = await self.ledger.opened(post, actor)
        status = [Button(f"Status {post.id}", f"/status {post.id}")]
        attempt = self.ledger.attempt(post)
        try:
            result = await self.publisher.publish(post, attempt)
        except OutcomeUnknown as exc:
            await self.ledger.unknown(attempt.post, exc.reason)
            return (
                f"{post.account_id}: not known whether it was published ({exc.reason}). Nothing will "
                f"be re-posted on a guess: check the account, then /check {post.id}.",
                status,
            )
        except CoreError as exc:
            post = attempt.post
            await self.ledger.failed(post, str(exc))  # records usage and tells the team
            retry = [Button(f"Retry {post.id}", f"/retry {post.id}")]
            why = explain_failure(post, exc, actor, self.publisher.platforms)
            return f"{post.account_id}: not published. {why}", status + retry
        except Exception:
            # One account's surprise must not hide what happened on the others. The post stays
            # claimed in the ledger: the scheduler reconciles it with the platform later.
            error_id = secrets.token_hex(4)
            log.exception("publishing to %s failed (error id %s)", post.account_id, error_id)
            return (
                f"{post.account_id}: something went wrong on our side (error id {error_id}); the post may "
                "or may not have gone out. Check the account before trying again."
            ), status
        await self._record_success(attempt.post, result)
        where = f" {result.url}" if result.url else ""
        return f"{post.account_id}: published, post id {result.remote_id}.{where}", status

    async def _record_success(self, post: Post, result: PublishResult) -> None:
        await self.ledger.published(post, result)  # records usage and tells the team
        if self.counter is not None:
            await self.counter.add(post.workspace_id, post.account_id, self._today())

    def _banner(self, reply: Reply) -> Reply:
        if not self.dry_run:
            return reply
        return Reply(f"{DRY_RUN_BANNER}\n{reply.text}", reply.buttons, reply.attachment, reply.ephemeral)


def missing_choice(
    flight: Preflight, options: Mapping[str, str], again: Callable[[dict[str, str]], str]
) -> tuple[list[str], list[Button]]:
    """What asks for the platform's required choice (TikTok's privacy level, from the creator's
    own options, never preselected) when it was not made: a line, and one button per option
    whose command is `again` with it added. /publish and /schedule both ask through here."""
    if not flight.choice_option or flight.choice_option in options:
        return [], []
    line = f"  Choose --{flight.choice_option}: {', '.join(flight.choices)}"
    return [line], [Button(c, again({flight.choice_option: c})) for c in flight.choices]


def check_options(options: dict[str, str], targets: set[str], platforms: Platforms) -> None:
    """Each post carries only its platform's options; one that no target takes is a mistake."""
    accepted: set[str] = set()
    for name in targets:
        found = platforms.find(name)
        accepted |= found.options if found is not None else frozenset()
    for option in options:
        if option not in accepted:
            raise BadInput(f"--{option} is not an option of {', '.join(sorted(targets))}; leave it out.")


def explain_failure(post: Post, exc: CoreError, actor: Actor, platforms: Platforms) -> str:
    if isinstance(exc, TokenExpired):
        noun = platforms.noun(post.platform)
        who = "Run" if actor.is_admin else "Ask a workspace admin to run"
        return (
            f"The access token expired or was revoked: reconnect the {noun}. "
            f"{who} {platforms.reconnect(post.platform)}."
        )
    if isinstance(exc, PublishRejected) and exc.retryable:
        wait = f" in {format_wait(exc.retry_after)}" if exc.retry_after else " later"
        return f"{exc} Try again{wait}."
    if isinstance(exc, RateLimited):
        return str(exc)
    return exc.user_message(is_admin=actor.is_admin)


def describe(post: Post) -> str:
    text = post.text.strip().replace("\n", " ")
    preview = text[:80] + ("…" if len(text) > 80 else "")
    media = ", ".join(f"{m.kind} {m.mime_type} {m.size / (1024 * 1024):.1f} MB" for m in post.media)
    options = " ".join(f"{k}={v}" for k, v in sorted(post.options.items()))
    parts = [f"text {preview!r}" if text else "no text", media, options]
    return "; ".join(p for p in parts if p)


def command(request: PublishRequest, extra: dict[str, str], *, yes: bool = False) -> str:
    options = {**request.options, **extra}
    parts = ["/publish", request.draft_id, *request.targets]
    parts += [f"--{k}" if v == "true" else f"--{k} {v}" for k, v in options.items()]
    return " ".join(parts + (["--yes"] if yes else []))


if TYPE_CHECKING:
    # mypy proves the dispatcher is the `PostPublisher` the scheduler is written against.
    _PORT: type[PostPublisher] = DispatchingPublisher
