"""The log file: rotated, redacted, never stdout; imported lazily (logging costs ~13 ms).

The helper's cache hit logs nothing, so it never pays for ``logging``. Any other path calls
``get_logger()``, which configures a rotating file handler under the user log dir with a filter
that masks anything that looks like a secret — and every secret ecrpy has seen in this process
(``remember_secret``), which catches tokens no pattern would.
"""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any

_LOGGER: logging.Logger | None = None
_SECRETS: set[str] = set()

# Patterns for secrets that may reach a message through a library's exception text.
_PATTERNS = (
    # Basic auth / bearer headers (before the key=value rule, which would stop at "Basic")
    re.compile(r"(?i)(\b(?:basic|bearer)\s+)([A-Za-z0-9+/=._-]{8,})"),
    # values after a secret-ish key name: aws_secret_access_key = …, "password": "…"
    re.compile(
        r"(?i)((?:secret|token|password|passwd|authorization|credential)[\w-]*"
        r"[\"']?\s*[:=]\s*[\"']?)([^\s\"',}]+)"
    ),
    # long base64 blobs (ECR tokens are ~2-3 kB of base64)
    re.compile(r"()([A-Za-z0-9+/]{80,}={0,2})"),
)


def remember_secret(value: str | None) -> None:
    """Mask ``value`` (and its obvious fragments) wherever it would be logged."""
    if value and len(value) >= 8:
        _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every known secret and secret-looking value replaced by ``***``."""
    for secret in _SECRETS:
        if secret in text:
            text = text.replace(secret, "***")
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + "***", text)
    return text


def _level() -> int:
    import logging

    name = os.environ.get("ECRPY_LOG_LEVEL", "INFO").upper()
    value = logging.getLevelName(name)
    return value if isinstance(value, int) else logging.INFO


def get_logger() -> logging.Logger:
    """The ``ecrpy`` logger writing to ``<log dir>/ecrpy.log`` (created 0700/0600)."""
    global _LOGGER
    if _LOGGER is not None:
        return _LOGGER
    import logging
    import logging.handlers

    from . import paths
    from .fsutil import ensure_private_dir

    # AWS secrets can surface in library exception texts (a credential_process's stderr,
    # a botocore message): mask the ones this process knows, whatever their shape.
    for var in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        remember_secret(os.environ.get(var))

    class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
        """Every file it opens or rotates is 0600 (the base class opens with the umask's mode,
        so after a rotation the new log was 0644), and a failed write (full disk, read-only)
        is dropped silently instead of printing logging's traceback on the helper's stderr."""

        def _open(self) -> Any:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(self.baseFilename, flags, 0o600)
            try:
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, 0o600)
                return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
            except BaseException:
                os.close(fd)
                raise

        def doRollover(self) -> None:
            super().doRollover()
            for n in range(1, self.backupCount + 1):
                try:
                    os.chmod(f"{self.baseFilename}.{n}", 0o600)
                except OSError:
                    pass

        def handleError(self, record: logging.LogRecord) -> None:
            return None  # the log is best effort; the helper's answer is what matters

    logger = logging.getLogger("ecrpy")
    logger.setLevel(_level())
    logger.propagate = False
    folder = paths.log_dir()
    try:
        ensure_private_dir(folder)
        path = os.path.join(folder, "ecrpy.log")
        handler: logging.Handler = _PrivateRotatingHandler(
            path, maxBytes=1_000_000, backupCount=3, encoding="utf-8", delay=True
        )
    except OSError:
        handler = logging.NullHandler()  # an unwritable log dir must never break the helper
    handler.setFormatter(_redacting_formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
    handler.setLevel(logger.level)  # the file keeps ECRPY_LOG_LEVEL when --debug lowers the logger
    logger.addHandler(handler)
    _LOGGER = logger
    return logger


def _redacting_formatter(fmt: str) -> logging.Formatter:
    """A formatter that passes every line (and traceback) through ``redact``."""
    import logging

    class _RedactingFormatter(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return redact(super().format(record))

        def formatException(self, ei: object) -> str:
            return redact(super().formatException(ei))  # type: ignore[arg-type]

    return _RedactingFormatter(fmt)


def debug_to_stderr() -> None:
    """``ecrpy --debug``: ecrpy's log also goes to stderr, at DEBUG, redacted like the file.

    Only ecrpy's own logger: botocore's wire log quotes credentials in shapes no redaction
    rule can promise to catch (an AssumeRole response's XML), so it is never shown.
    """
    import logging
    import sys

    logger = get_logger()
    if any(getattr(h, "ecrpy_stderr", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.ecrpy_stderr = True  # type: ignore[attr-defined]
    handler.setFormatter(_redacting_formatter("ecrpy: %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def log_path() -> str:
    """Where the log file lives (for messages and ``ecrpy doctor``)."""
    from . import paths

    return os.path.join(paths.log_dir(), "ecrpy.log")


def debug(msg: str, *args: object) -> None:
    """Log at DEBUG."""
    get_logger().debug(msg, *args)


def info(msg: str, *args: object) -> None:
    """Log at INFO. Until something has set ``logging`` up in this process, the line is
    appended directly (``_append``): a cold ``get`` logs one line, and importing ``logging``
    for it cost ~8 ms of CPU, a sixth of that ``get``."""
    if _LOGGER is None and _append("INFO", msg, args):
        return
    get_logger().info(msg, *args)


_MAX_BYTES = 1_000_000  # the rotating handler's maxBytes


def _append(level: str, msg: str, args: tuple[object, ...]) -> bool:
    """Write one record exactly as ``get_logger``'s handler would (format, redaction, file,
    0600, O_NOFOLLOW; a failed write dropped). False, to go through ``logging``, when the
    handler would do more: a set ``ECRPY_LOG_LEVEL``, or a file due for rotation."""
    import time

    from . import paths
    from .fsutil import ensure_private_dir

    if "ECRPY_LOG_LEVEL" in os.environ:
        return False
    for var in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        remember_secret(os.environ.get(var))
    now = time.time()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
    message = msg % args if args else msg
    line = redact(f"{stamp},{int((now - int(now)) * 1000):03d} {os.getpid()} {level} {message}")
    try:
        data = (line + "\n").encode("utf-8")
    except UnicodeError:
        return True  # the handler's strict encoding drops it too
    folder = paths.log_dir()
    try:
        ensure_private_dir(folder)
    except OSError:
        return True  # get_logger: an unwritable log dir gives a NullHandler
    path = os.path.join(folder, "ecrpy.log")
    try:
        if os.stat(path).st_size + len(data) >= _MAX_BYTES:
            return False
    except OSError:
        pass  # no file yet
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
        try:
            if hasattr(os, "fchmod"):
                os.fchmod(fd, 0o600)
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError:
        pass  # best effort, as the handler's handleError
    return True


def warning(msg: str, *args: object) -> None:
    """Log at WARNING."""
    get_logger().warning(msg, *args)


def error(msg: str, *args: object, exc_info: bool = False) -> None:
    """Log at ERROR, with the (redacted) traceback when ``exc_info``."""
    get_logger().error(msg, *args, exc_info=exc_info or None)
