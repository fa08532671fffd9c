"""The platform-neutral answer every command returns; front ends render it in their idiom."""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Button:
    """A tap-able action. `command` is the exact typed command it stands for, so every
    button is also scriptable (the console prints it; Telegram packs it into callback_data)."""

    label: str
    command: str
    # The command needs a text the person writes first (a note): front ends that can ask for
    # it ask (a Discord modal) and run `command` followed by the text; others run `command`
    # as is, which explains the typed form. The label of that text field.
    asks: str = ""


@dataclass(frozen=True)
class Attachment:
    """An image or file sent with a reply (a chart PNG, an export)."""

    filename: str
    data: bytes
    mime_type: str

    @property
    def is_image(self) -> bool:
        return self.mime_type.startswith("image/")


@dataclass(frozen=True)
class Reply:
    """Plain text (front ends escape and split it), optional buttons and attachment.

    `ephemeral` asks the front end to show the reply only to the caller where it can
    (Discord ephemeral responses, a private message on Telegram)."""

    text: str
    buttons: tuple[Button, ...] = ()
    attachment: Attachment | None = None
    ephemeral: bool = False
    notices: tuple[str, ...] = field(default=())
    # Ask the front end to delete the message that triggered this reply where it can (a token
    # typed in a group chat).
    delete_source: bool = False
    # Set on a draft card: lets a front end remember which draft a message shows, so a photo
    # sent as a reply to the card attaches to that draft (Telegram).
    draft_id: str = ""
    # Carries a secret or a single-use link (the OAuth link): a front end delivers it only to a
    # one-to-one chat, never to a group, even when that means asking the user to open one.
    private_only: bool = False
    # Nothing to show: a blocked user was told once already, and every later command is ignored.
    silent: bool = False
    # The first line is a title and the rest its body (a draft or post card): front ends with
    # cards (Discord embeds) show it as one.
    card: bool = False
    # The buttons are alternatives for one choice (e.g. "TikTok privacy"): front ends with
    # select menus offer them as one.
    choice: str = ""
    # The reply asks the caller for a text: the command that text completes ("/changes 3fa2").
    # Front ends that can take an answer to this message (Telegram's ForceReply) run the
    # command with it; elsewhere the reply's own text explains the typed form.
    expects: str = ""

    @classmethod
    def nothing(cls) -> Reply:
        return cls("", silent=True)

    def with_buttons(self, *buttons: Button) -> Reply:
        return replace(self, buttons=self.buttons + buttons)
