"""SHA-256 without hashlib's OpenSSL load (~5 ms at import) on the helper's hot path.

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
