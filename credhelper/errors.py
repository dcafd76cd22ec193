"""One error tree for ecrpy: a message, an optional hint, an exit code — never a secret.

Every error that reaches a user passes through ``EcrpyError.one_line()``; code that builds an
error must not put a token, secret key or session token in ``message`` or ``hint``.
"""

from __future__ import annotations


class EcrpyError(Exception):
    """Base of every error ecrpy reports to a user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The message and the hint on one line, as shown on stderr."""
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        return " ".join(text.split())


class UsageError(EcrpyError):
    """The command line or stdin was malformed."""

    exit_code = 2


class ConfigError(EcrpyError):
    """An ecrpy config file, docker config or input document is invalid."""


class NotFoundError(EcrpyError):
    """No credentials exist for this server URL."""


class CredentialsError(EcrpyError):
    """No usable AWS credentials could be resolved for the identity."""


class TokenError(EcrpyError):
    """ECR refused or failed to issue an authorization token."""


class RefusedError(EcrpyError):
    """Stopped before any transfer: denied by the pre-flight, or sure to fail."""

    exit_code = 3


class KeyringUnavailableError(EcrpyError):
    """No usable OS keyring backend is available."""


class PolicyDocumentError(ConfigError):
    """A policy document or simulation input is invalid (names the place)."""
