"""What a repository's lifecycle policy will do to a push, read from its rules.

ECR User Guide, "Lifecycle policy properties": each rule selects images by ``tagStatus``
(``tagged`` with ``tagPrefixList`` or ``tagPatternList``, ``untagged``, ``any``) and expires
them by ``countType``: ``imageCountMoreThan`` keeps the ``countNumber`` most recently pushed
matching images and expires the rest; ``sinceImagePushed`` expires matching images
``countNumber`` days (``countUnit``) after their push. The warnings here never block a push:
the policy is the registry owner's intent, ecrpy only says what it will do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Rules that expire a pushed image within this many days are said to expire it "at once".
SOON_DAYS = 1


@dataclass(frozen=True)
class Selection:
    """One rule's image selection."""

    priority: int
    tag_status: str  # tagged | untagged | any
    prefixes: tuple[str, ...]
    patterns: tuple[str, ...]
    count_type: str
    count_number: int

    def matches_tag(self, tag: str) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status != "tagged":
            return False
        return any(tag.startswith(p) for p in self.prefixes) or any(
            _wildcard(p, tag) for p in self.patterns
        )

    def matches_tags(self, tags: list[str]) -> bool:
        if self.tag_status == "any":
            return True
        if self.tag_status == "untagged":
            return not tags
        return any(self.matches_tag(t) for t in tags)

    @property
    def described(self) -> str:
        if self.tag_status == "any":
            return "every image"
        chosen = [f"{p}*" for p in self.prefixes] + list(self.patterns)
        return "images tagged " + ", ".join(repr(c) for c in chosen)


def rules(policy_text: str) -> list[Selection]:
    """The expire rules of a lifecycle policy document (malformed parts are skipped)."""
    try:
        doc = json.loads(policy_text)
    except ValueError:
        return []
    found: list[Selection] = []
    for rule in doc.get("rules") or [] if isinstance(doc, dict) else []:
        if not isinstance(rule, dict):
            continue
        sel = rule.get("selection") or {}
        action = (rule.get("action") or {}).get("type", "expire")
        if not isinstance(sel, dict) or action != "expire":
            continue
        try:
            number = int(str(sel.get("countNumber")))
            priority = int(str(rule.get("rulePriority", 0)))
        except (TypeError, ValueError):
            continue
        found.append(
            Selection(
                priority=priority,
                tag_status=str(sel.get("tagStatus") or ""),
                prefixes=tuple(str(p) for p in sel.get("tagPrefixList") or []),
                patterns=tuple(str(p) for p in sel.get("tagPatternList") or []),
                count_type=str(sel.get("countType") or ""),
                count_number=number,
            )
        )
    return sorted(found, key=lambda s: s.priority)


def push_warnings(
    policy_text: str,
    tag: str,
    tag_exists: bool | None,
    images: Callable[[], list[list[str]] | None],
) -> list[str]:
    """What the policy will expire because ``tag`` is pushed. ``images``: the tag lists of
    the repository's images (None: unreadable), called only when a count rule needs it."""
    out: list[str] = []
    listed: list[list[str]] | None = None
    read = False
    for sel in rules(policy_text):
        if not sel.matches_tag(tag):
            continue
        if sel.count_type == "sinceImagePushed" and sel.count_number <= SOON_DAYS:
            out.append(
                f"lifecycle rule {sel.priority} expires {sel.described} {sel.count_number} "
                f"day(s) after their push: {tag} will be expired within a day"
            )
        elif sel.count_type == "imageCountMoreThan":
            if not read:
                listed, read = images(), True
            if listed is None:
                continue
            now = sum(1 for tags in listed if sel.matches_tags(tags))
            after = now if tag_exists else now + 1
            if after > sel.count_number:
                out.append(
                    f"lifecycle rule {sel.priority} keeps the {sel.count_number} newest of "
                    f"{sel.described}: after this push there are {after}, so the "
                    f"{after - sel.count_number} oldest will be expired"
                )
    return out


def _wildcard(pattern: str, text: str) -> bool:
    """tagPatternList: ``*`` matches any run of characters, everything else itself."""
    import fnmatch

    return fnmatch.fnmatchcase(text, pattern.replace("[", "[[]").replace("?", "[?]"))


def tag_lists(describe_pages: Any) -> list[list[str]]:
    """The ``imageTags`` of every image on the pages of DescribeImages."""
    return [
        [str(t) for t in detail.get("imageTags") or []]
        for page in describe_pages
        for detail in page.get("imageDetails") or []
    ]
