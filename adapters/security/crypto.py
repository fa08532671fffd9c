"""Keys derived from SECRET_KEY: Fernet (MultiFernet, for rotation) for tokens at rest and an
HMAC key for signed OAuth states. Different HKDF `info` labels keep the two keys unrelated."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.errors import ConfigurationError

TOKENS_LABEL = b"content-studio/tokens-at-rest/v1"
STATE_LABEL = b"content-studio/oauth-state/v1"
LINK_LABEL = b"content-studio/link-code/v1"


def derive_key(secret: str, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(secret.encode())


class TokenCipher:
    """Encrypts with the current key; decrypts with the current or any old key (rotation:
    set SECRET_KEY to the new value and list the previous one in SECRET_KEYS_OLD)."""

    def __init__(
        self,
        secret: str,
        old_secrets: Iterable[str] = (),
        on_plaintext: Callable[[str], None] = lambda _: None,
    ) -> None:
        keys = [
            Fernet(base64.urlsafe_b64encode(derive_key(k, TOKENS_LABEL))) for k in [secret, *old_secrets] if k
        ]
        self._current = keys[0]
        self._fernet = MultiFernet(keys)
        self.has_old_keys = len(keys) > 1
        self._on_plaintext = on_plaintext

    def encrypt(self, plaintext: str) -> str:
        self._on_plaintext(plaintext)
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        try:
            plaintext = self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError(
                "A stored token cannot be decrypted: SECRET_KEY changed. Put the previous key in "
                "SECRET_KEYS_OLD, or reconnect the account.",
                setting="SECRET_KEY",
            ) from exc
        self._on_plaintext(plaintext)
        return plaintext

    def is_current(self, ciphertext: str) -> bool:
        """False when `ciphertext` was made with an old key (re-encrypt it with `rotate`)."""
        try:
            self._current.decrypt(ciphertext.encode())
        except InvalidToken:
            return False
        return True

    def rotate(self, ciphertext: str) -> str:
        """Re-encrypt under the current key (after a key rotation)."""
        return self._fernet.rotate(ciphertext.encode()).decode()

    def try_rotate(self, ciphertext: str) -> str | None:
        """`rotate`, or None when no configured key opens `ciphertext`."""
        try:
            return self.rotate(ciphertext)
        except InvalidToken:
            return None
