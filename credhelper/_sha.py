"""SHA-256 (and SHA-1) without hashlib's OpenSSL load (~5 ms at import) on the helper's hot path.

*Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_SHA256: Any = None


def _constructor() -> Any:
    # A failed import is not cached by Python, so resolve the constructor once per process.
    global _SHA256
    if _SHA256 is None:
        import sys

        try:
            if sys.version_info >= (3, 12):
                from _sha2 import sha256  # type: ignore[import-not-found,unused-ignore]
            else:  # a failed import is not free either: ask for the right module first
                from _sha256 import sha256  # type: ignore[import-not-found,no-redef,unused-ignore]
        except ImportError:  # another interpreter: hashlib is always there
            from hashlib import sha256  # type: ignore[assignment,unused-ignore]
        _SHA256 = sha256
    return _SHA256


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    digest: str = _constructor()(data).hexdigest()
    return digest


_SHA1: Any = None


def sha1_hex(data: bytes) -> str:
    """Hex SHA-1 of ``data`` (botocore names the AWS CLI's role-session cache files by it)."""
    global _SHA1
    if _SHA1 is None:
        try:
            from _sha1 import sha1  # type: ignore[import-not-found,unused-ignore]
        except ImportError:  # another interpreter: hashlib is always there
            from hashlib import sha1  # type: ignore[assignment,unused-ignore]
        _SHA1 = sha1
    digest: str = _SHA1(data).hexdigest()
    return digest
