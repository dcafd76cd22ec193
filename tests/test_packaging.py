"""The package metadata tells the truth: dependencies are what credhelper imports, the license
ships, and the long description has no links that break on PyPI. (scripts/test builds the wheel
and sdist, runs twine check and the console scripts from a fresh venv.)"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# import name -> distribution name, where they differ
DISTRIBUTION = {"tomli": "tomli"}


def _third_party_imports() -> set[str]:
    names: set[str] = set()
    for path in (ROOT / "credhelper").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    stdlib = set(sys.stdlib_module_names) | {"__future__"}
    # "_sha2" is a private stdlib module of newer Pythons than the one running this test
    return {n for n in names if n not in stdlib and n != "credhelper" and not n.startswith("_")}


def _declared() -> set[str]:
    deps = PYPROJECT["project"]["dependencies"]
    return {re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].strip().lower() for dep in deps}


def test_dependencies_match_imports() -> None:
    imported = {DISTRIBUTION.get(name, name).lower() for name in _third_party_imports()}
    assert imported == _declared()
    assert "filelock" not in _declared()  # lock.py is ours (see docs/architecture.md)


def test_license_ships_in_repo_and_metadata() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text  # the full text, not a pointer to it
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0" and project["license-files"] == ["LICENSE"]
    assert any(c.startswith("Programming Language :: Python :: 3.1") for c in project["classifiers"])
    assert project["keywords"] and set(project["urls"]) >= {"Homepage", "Source", "Issues"}


def test_long_description_has_only_absolute_links() -> None:
    readme = (ROOT / PYPROJECT["project"]["readme"]).read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme) + re.findall(r'src="([^"]+)"', readme)
    relative = [t for t in targets if not re.match(r"https?://|mailto:|#", t)]
    assert relative == []


def test_sdist_manifest_carries_the_tests() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    for folder in ("tests", "docs", "scripts"):
        assert folder in manifest
