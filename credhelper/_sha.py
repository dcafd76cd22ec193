"""SHA-256 without hashlib's OpenSSL load (~5 ms at import) on the helper's hot path."""

from __future__ import annotations


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    try:
        from _sha2 import sha256  # CPython >= 3.12
    except ImportError:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found,no-redef]  # CPython <= 3.11
        except ImportError:
            from hashlib import sha256  # type: ignore[assignment]  # other interpreters
    return sha256(data).hexdigest()
