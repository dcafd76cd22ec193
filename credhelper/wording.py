"""Words for counts in what ecrpy prints: "1 layer", "2 layers", "up to date" when nothing moved.

Pure functions, no imports: usable from any module, the helper's hot path included.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# Nouns whose plural is not noun + "s" (add here rather than spelling plurals at call sites).
_IRREGULAR = {"registry": "registries", "entry": "entries", "policy": "policies"}

# Per operation: the counts that mean bytes moved, and how each count is worded.
_PARTS = {
    "push": (("pushed", "pushed"), ("mounted", "mounted"), ("skipped", "already there")),
    "pull": (("downloaded", "downloaded"), ("already_present", "already present")),
}
_MOVED = {"push": ("pushed", "mounted"), "pull": ("downloaded",)}
_VERB = {"push": "pushed", "pull": "pulled"}


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun`` in agreement: ``plural(1, "layer")`` is "1 layer",
    ``plural(2, "layer")`` "2 layers", ``plural(0, "registry")`` "0 registries"."""
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {plural_form or _IRREGULAR.get(noun) or noun + 's'}"


def nothing_moved(operation: str, counts: Mapping[str, int]) -> bool:
    """True when a push uploaded and mounted nothing, or a pull downloaded nothing."""
    return not any(counts.get(key, 0) for key in _MOVED[operation])


def transfer_verb(operation: str, counts: Mapping[str, int]) -> str:
    """"pushed" / "pulled", or "up to date" when nothing moved."""
    return "up to date" if nothing_moved(operation, counts) else _VERB[operation]


def layer_breakdown(operation: str, counts: Mapping[str, int]) -> str:
    """e.g. "3 layers: 1 pushed, 2 already there", "1 layer: 1 downloaded"; zero parts are left
    out; with nothing moved "2 layers, all already there", "1 layer, already present"."""
    total = counts.get("total", 0)
    head = plural(total, "layer")
    parts = [(counts.get(key, 0), word) for key, word in _PARTS[operation]]
    shown = [f"{n} {word}" for n, word in parts if n]
    if total and nothing_moved(operation, counts) and len(shown) == 1:
        return f"{head}, {'all ' if total > 1 else ''}{parts[-1][1]}"
    return f"{head}: {', '.join(shown)}" if shown else head
