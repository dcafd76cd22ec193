"""A failed AWS call as the short, secret-free reason a gap or a probe reports."""

from __future__ import annotations


def error_code(exc: BaseException) -> str:
    """botocore's error code, or the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """A short, secret-free reason for a gap: ``AccessDenied``, ``500``, ``timeout``..."""
    from ..tokens import is_access_denied

    if is_access_denied(exc):  # type: ignore[arg-type]
        return "AccessDenied"
    return error_code(exc)
