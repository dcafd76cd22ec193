"""``Value``: equality, hash and repr by the values of a class's ``__slots__``.

Owns the value-class boilerplate the hot modules would otherwise each write by hand: what a
frozen dataclass gives, without importing ``dataclasses`` (~18 ms, it pulls in ``inspect``;
docs/CONTRIBUTING-hot-path.md). Subclasses list their fields in ``__slots__`` (that order is
the repr's) and may override ``__repr__`` to leave a secret out. *Hot*; imports nothing.
"""

from __future__ import annotations

__all__ = ["Value"]


class Value:
    """Compared and hashed by the tuple of its slot values; equal only to the same class."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Value)
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"
