"""What the tests of the botocore-free paths (test_fast_token, test_fast_role,
test_fast_sources) share: the test registry, botocore's path forced, and an outcome two paths
can be compared by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from credhelper import fast_token
from credhelper.errors import EcrpyError
from credhelper.registry import Registry, parse
from tests.support import ecr_host


def registry(host: str | None = None) -> Registry:
    """The parsed registry of ``host`` (moto's ECR host by default)."""
    found = parse(host or ecr_host())
    assert found is not None
    return found


def botocore_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """``tokens.fetch`` takes botocore's path: the fast one answers "not mine"."""
    monkeypatch.setattr(fast_token, "fetch", lambda *a, **k: None)


def outcome(fetch: Callable[[], Any]) -> tuple[str, ...]:
    """A token fetch's result as comparable values: the token, or the error's class and words."""
    try:
        entry = fetch()
    except EcrpyError as exc:
        return ("error", type(exc).__name__, exc.message, str(exc.hint))
    return ("token", entry.username, entry.token, str(entry.proxy_endpoint))
