"""Keyring backends that load and claim a good priority but fail (``BrokenKeyring``) or hang
(``HangingKeyring``) on every call, as a locked or broken OS store does. Select one with
``PYTHON_KEYRING_BACKEND=tests.support.broken_keyring.BrokenKeyring`` (and the repository on
``PYTHONPATH``)."""

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


class HangingKeyring(KeyringBackend):
    """A store whose every call waits a minute, as a locked Secret Service does while its
    unlock prompt sits unanswered (or a D-Bus service that never replies)."""

    priority = 1.0  # type: ignore[assignment]
    WAIT = 60.0

    def get_password(self, service: str, username: str) -> str | None:
        import time

        time.sleep(self.WAIT)
        return None

    def set_password(self, service: str, username: str, password: str) -> None:
        self.get_password(service, username)

    def delete_password(self, service: str, username: str) -> None:
        self.get_password(service, username)
