"""credhelper._value.Value: what a frozen dataclass gives, by the values of __slots__."""

from __future__ import annotations

from credhelper._value import Value


class Point(Value):
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class Other(Value):
    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


def test_equal_and_hashed_by_slot_values_within_one_class() -> None:
    assert Point(1, 2) == Point(1, 2) and hash(Point(1, 2)) == hash(Point(1, 2))
    assert Point(1, 2) != Point(2, 1)
    assert Point(1, 2) != Other(1, 2)  # same fields, another class: not equal
    assert len({Point(1, 2), Point(1, 2), Point(1, 3)}) == 2


def test_repr_lists_fields_in_slot_order() -> None:
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"


def test_no_instance_dict() -> None:
    assert not hasattr(Point(1, 2), "__dict__")
