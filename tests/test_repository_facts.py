"""``RepositoryFacts.push_blocked_by_tag``: the one answer to "would an IMMUTABLE tag reject this
push?" (ECR API reference, CreateRepository ``imageTagMutability`` and
``imageTagMutabilityExclusionFilters``)."""

from __future__ import annotations

import pytest

from credhelper.ecr_repository import RepositoryFacts


def facts(
    mutability: str | None, tag_exists: bool | None, filters: list[str] | None = None
) -> RepositoryFacts:
    f = RepositoryFacts(tag_mutability=mutability, tag_exists=tag_exists)
    f.exclusion_filters = filters
    return f


@pytest.mark.parametrize(
    ("mutability", "tag_exists", "filters", "tag", "expected"),
    [
        ("MUTABLE", True, None, "v1", "no"),
        ("IMMUTABLE", True, None, "v1", "yes"),
        ("IMMUTABLE", False, None, "v1", "no"),
        ("IMMUTABLE", None, None, "v1", "unknown"),
        (None, True, None, "v1", "unknown"),  # mutability unread
        ("IMMUTABLE", True, None, None, "no"),  # a push by digest moves no tag
        ("IMMUTABLE_WITH_EXCLUSION", True, ["latest*"], "latest-x", "no"),
        ("IMMUTABLE_WITH_EXCLUSION", True, ["latest*"], "v1", "yes"),
        ("MUTABLE_WITH_EXCLUSION", True, ["release-*"], "release-1", "yes"),
        ("MUTABLE_WITH_EXCLUSION", True, ["release-*"], "dev", "no"),
        ("IMMUTABLE_WITH_EXCLUSION", True, None, "v1", "unknown"),  # filters unread
        ("SOMETHING_NEW", True, [], "v1", "unknown"),
    ],
)
def test_push_blocked_by_tag(
    mutability: str | None,
    tag_exists: bool | None,
    filters: list[str] | None,
    tag: str | None,
    expected: str,
) -> None:
    assert facts(mutability, tag_exists, filters).push_blocked_by_tag(tag) == expected


def test_describe_reads_mutability_and_filters() -> None:
    f = RepositoryFacts()
    f.describe(
        {
            "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
            "imageTagMutabilityExclusionFilters": [{"filterType": "WILDCARD", "filter": "dev-*"}],
        }
    )
    assert (f.exists, f.tag_mutability, f.exclusion_filters) == (
        True,
        "IMMUTABLE_WITH_EXCLUSION",
        ["dev-*"],
    )
    f.tag_exists = True
    assert f.push_blocked_by_tag("dev-1") == "no"
    assert f.push_blocked_by_tag("v[1]") == "yes"  # "[" is literal in ECR's wildcard
