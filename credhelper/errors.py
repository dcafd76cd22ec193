"""One error tree for ecrpy: a message, an optional hint, an exit code — never a secret.

Every error that reaches a user passes through ``EcrpyError.one_line()``; code that builds an
error must not put a token, secret key or session token in ``message`` or ``hint``.

*Hot* (docs/CONTRIBUTING-hot-path.md).
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


class EnvironmentProblemError(EcrpyError):
    """A file or folder ecrpy needs cannot be used: read-only, full, locked, not permitted,
    not a regular file. Not a bug: the message names the path and the cause, the hint a fix."""


# errno name -> what to do about it (the cause itself is the OS's strerror).
_FIXES = {
    "EROFS": "the file system is read-only; point ecrpy at a writable folder",
    "ENOSPC": "the disk is full; free some space",
    "EDQUOT": "the disk quota is exhausted; free some space",
    "EACCES": "check the owner and permissions of the file and its folders",
    "EPERM": "check the owner and permissions of the file and its folders",
    "ENOTDIR": "a folder on the path is a regular file; move it away or set the path elsewhere",
    "ELOOP": "it is a symbolic link, which ecrpy does not follow here; remove the link",
    "EISDIR": "it is a directory; remove or move it",
    "ENOENT": "a folder on the path does not exist",
    "EEXIST": "something already exists at that path; remove or move it",
    "EMFILE": "too many open files; raise the limit (ulimit -n)",
}
# ecrpy's own OSError subclasses (named, so this module stays a leaf) -> their fix.
_CLASS_FIXES = {
    "NotRegularFileError": "remove it; ecrpy recreates what it needs",
    "FileTooLargeError": "remove it; ecrpy recreates what it needs",
    "InsecureDirectoryError": "make the folder yours and private (chmod 700)",
    "LockTimeoutError": "another process holds the lock; let it finish or stop it, then retry",
}


def environment_error(
    doing: str, exc: OSError, hint: str | None = None, alternative: str | None = None
) -> EnvironmentProblemError:
    """One line for an ``OSError`` met while ``doing`` something (e.g. "write /x/config.json").

    ``hint`` overrides the generic fix for the error number; ``alternative`` is added to it
    (e.g. "set ECRPY_STATE_DIR to another private folder").
    """
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    cause = exc.strerror or str(exc) or type(exc).__name__
    path = exc.filename if isinstance(exc.filename, str) else None
    where = f" ({path})" if path and path not in doing else ""
    fix = hint or _CLASS_FIXES.get(type(exc).__name__) or _FIXES.get(name)
    if alternative:
        fix = f"{fix}, or {alternative}" if fix else alternative
    return EnvironmentProblemError(f"cannot {doing}{where}: {cause}", hint=fix)
