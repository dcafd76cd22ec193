"""Edits of docker's config.json keep everything else, are atomic and leave a backup."""

from __future__ import annotations

import json
import os

import pytest

from credhelper import docker_config
from credhelper.errors import ConfigError

EXISTING = {
    "auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}},
    "credHelpers": {"gcr.io": "gcloud"},
    "psFormat": "table {{.ID}}",
    "experimental": "enabled",
}


def test_adds_helpers_and_keeps_every_key(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        json.dump(EXISTING, f)
    os.chmod(path, 0o600)
    change = docker_config.configure(["1.dkr.ecr.us-east-1.amazonaws.com"], directory=str(tmp_path))
    data = json.load(open(path))
    assert data["credHelpers"] == {"gcr.io": "gcloud", "1.dkr.ecr.us-east-1.amazonaws.com": "ecrpy"}
    for key in ("auths", "psFormat", "experimental"):
        assert data[key] == EXISTING[key]
    assert change.backup == path + ".bak"
    assert json.load(open(change.backup)) == EXISTING
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_idempotent(tmp_path: os.PathLike[str]) -> None:
    docker_config.configure(["h:5000"], default=True, directory=str(tmp_path))
    before = open(os.path.join(tmp_path, "config.json")).read()
    change = docker_config.configure(["h:5000"], default=True, directory=str(tmp_path))
    assert change.added == [] and sorted(change.unchanged) == ["credsStore", "h:5000"]
    assert open(os.path.join(tmp_path, "config.json")).read() == before


def test_creates_missing_file(tmp_path: os.PathLike[str]) -> None:
    folder = os.path.join(tmp_path, "new")
    change = docker_config.configure([], default=True, directory=folder)
    assert change.backup is None
    assert json.load(open(os.path.join(folder, "config.json"))) == {"credsStore": "ecrpy"}


def test_dry_run_writes_nothing(tmp_path: os.PathLike[str]) -> None:
    change = docker_config.configure(["h:1"], directory=str(tmp_path), dry_run=True)
    assert change.added == ["h:1"]
    assert not os.path.exists(os.path.join(tmp_path, "config.json"))


@pytest.mark.parametrize("content", ["{broken", "[1,2]", '{"credHelpers": []}'])
def test_refuses_to_clobber_invalid_file(tmp_path: os.PathLike[str], content: str) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(ConfigError):
        docker_config.configure(["h:1"], directory=str(tmp_path))
    assert open(path).read() == content


def test_dumps_is_json_dumps_with_tabs_for_plain_documents() -> None:
    doc = {"auths": {"a": {"auth": "x"}}, "l": [1, [], {}, "\u00e9", None, True], "e": {}}
    text = json.dumps(doc, indent="\t")
    assert docker_config.dumps(docker_config.read_text(text)) == text


@pytest.mark.parametrize(
    "literal", ["1e400", "-1e400", "-0.0", "1.10", "123456789012345678901234567890", "1E+2", "0"]
)
def test_numbers_keep_their_text(tmp_path: os.PathLike[str], literal: str) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        f.write('{"n": ' + literal + ', "l": [' + literal + "]}")
    docker_config.configure(["h:1"], directory=str(tmp_path))
    text = open(path).read()
    assert text.count(literal) >= 2 and "Infinity" not in text, text


@pytest.mark.parametrize(
    "content", ['{"a": NaN}', '{"a": [Infinity]}', '{"x": ' + "[" * 100_000 + "]" * 100_000 + "}"]
)
def test_refuses_what_it_cannot_write_back_unchanged(
    tmp_path: os.PathLike[str], content: str
) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(ConfigError) as info:
        docker_config.configure(["h:1"], directory=str(tmp_path))
    assert "\n" not in info.value.one_line()
    assert open(path).read() == content
    assert not os.path.exists(path + ".bak")
