"""A keyring backend that loads and claims a good priority but fails every call, as a locked
or broken OS store does. Select it with ``PYTHON_KEYRING_BACKEND=
tests.support.broken_keyring.BrokenKeyring`` (and the repository on ``PYTHONPATH``)."""

from __future__ import annotations

from keyring.backend import KeyringBackend
from keyring.errors import KeyringLocked


class BrokenKeyring(KeyringBackend):
    priority = 1.0  # type: ignore[assignment]

    def get_password(self, service: str, username: str) -> str | None:
        raise KeyringLocked("the store is locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise KeyringLocked("the store is locked")

    def delete_password(self, service: str, username: str) -> None:
        raise KeyringLocked("the store is locked")
