"""SHA-256 without hashlib's OpenSSL load (~5 ms at import) on the helper's hot path."""

from __future__ import annotations


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    try:
        import _sha2 as builtin_sha  # type: ignore[import-not-found,unused-ignore]  # >= 3.12
    except ImportError:
        try:
            import _sha256 as builtin_sha  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # another interpreter: hashlib is always there
            import hashlib as builtin_sha  # type: ignore[no-redef,unused-ignore]
    digest: str = builtin_sha.sha256(data).hexdigest()
    return digest
