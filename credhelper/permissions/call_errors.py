"""A failed AWS call as the short, secret-free reason a gap or a probe reports (the codes
themselves are read by ``credhelper.aws_errors``, the one reader of botocore's errors)."""

from __future__ import annotations

from ..aws_errors import error_code, is_access_denied

__all__ = ["describe_error", "error_code"]


def describe_error(exc: BaseException) -> str:
    """A short, secret-free reason for a gap: ``AccessDenied``, ``500``, ``timeout``..."""
    if is_access_denied(exc):  # type: ignore[arg-type]
        return "AccessDenied"
    return error_code(exc)
