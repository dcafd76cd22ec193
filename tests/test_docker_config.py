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


# -- credsStore is never taken over silently ---------------------------------------------------


@pytest.mark.parametrize("store", ["desktop", "osxkeychain", "pass", "wincred", "secretservice"])
def test_default_refuses_another_creds_store(tmp_path: os.PathLike[str], store: str) -> None:
    path = os.path.join(tmp_path, "config.json")
    content = json.dumps({"credsStore": store, "auths": {"ghcr.io": {}}})
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(docker_config.CredsStoreTakenError) as info:
        docker_config.configure(["h:1"], default=True, directory=str(tmp_path))
    line = info.value.one_line()
    assert f'is already "{store}"' in line and "--force replaces it" in line, line
    assert "config.json.bak" in line and "\n" not in line
    # nothing written, not even the credHelpers entry asked for in the same command
    assert open(path).read() == content
    assert not os.path.exists(path + ".bak")


def test_force_replaces_another_creds_store_and_keeps_it_in_the_backup(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        json.dump({"credsStore": "desktop", "n": 1}, f)
    change = docker_config.configure([], default=True, directory=str(tmp_path), force=True)
    assert change.added == ["credsStore"] and change.replaced == {"credsStore": '"desktop"'}
    assert json.load(open(path)) == {"credsStore": "ecrpy", "n": 1}
    assert json.load(open(path + ".bak"))["credsStore"] == "desktop"


@pytest.mark.parametrize("store", [None, ""])
def test_default_takes_an_absent_or_empty_creds_store(
    tmp_path: os.PathLike[str], store: str | None
) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        json.dump({} if store is None else {"credsStore": store}, f)
    change = docker_config.configure([], default=True, directory=str(tmp_path))
    assert change.added == ["credsStore"] and change.replaced == {}
    assert json.load(open(path)) == {"credsStore": "ecrpy"}


def test_replacing_another_helper_for_a_named_host_is_reported(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        json.dump({"credHelpers": {"h:1": "ecr-login"}}, f)
    change = docker_config.configure(["h:1"], directory=str(tmp_path))
    assert change.added == ["h:1"] and change.replaced == {"h:1": '"ecr-login"'}


# -- remove --------------------------------------------------------------------------------------

MIXED = {
    "auths": {"ghcr.io": {"auth": "dXNlcjpwYXNz"}},
    "credHelpers": {"a.example": "ecrpy", "b.example:5000": "ecrpy", "gcr.io": "gcloud"},
    "credsStore": "ecrpy",
    "psFormat": "table {{.ID}}",
}


def _write_mixed(folder: os.PathLike[str]) -> str:
    path = os.path.join(folder, "config.json")
    with open(path, "w") as f:
        json.dump(MIXED, f)
    return path


def test_remove_named_hosts_only_where_the_value_is_ecrpy(tmp_path: os.PathLike[str]) -> None:
    path = _write_mixed(tmp_path)
    change = docker_config.remove(
        ["https://A.example/v2/", "gcr.io", "c.example"], directory=str(tmp_path)
    )
    assert change.removed == ["a.example"]
    assert change.kept == {
        "gcr.io": 'it uses "gcloud", not ecrpy',
        "c.example": "not in credHelpers",
    }
    data = json.load(open(path))
    assert data["credHelpers"] == {"b.example:5000": "ecrpy", "gcr.io": "gcloud"}
    assert data["credsStore"] == "ecrpy"  # not asked for
    assert {k: v for k, v in data.items() if k != "credHelpers"} == {
        k: v for k, v in MIXED.items() if k != "credHelpers"
    }
    assert json.load(open(change.backup or "")) == MIXED


def test_remove_default_only_when_it_is_ecrpy(tmp_path: os.PathLike[str]) -> None:
    path = _write_mixed(tmp_path)
    change = docker_config.remove([], default=True, directory=str(tmp_path))
    assert change.removed == ["credsStore"]
    data = json.load(open(path))
    assert "credsStore" not in data and data["credHelpers"] == MIXED["credHelpers"]
    with open(path, "w") as f:
        json.dump({"credsStore": "desktop"}, f)
    change = docker_config.remove([], default=True, directory=str(tmp_path))
    assert change.removed == [] and change.kept == {"credsStore": 'it is "desktop", not ecrpy'}
    assert json.load(open(path)) == {"credsStore": "desktop"}


def test_remove_everything_is_idempotent_and_drops_an_emptied_cred_helpers(
    tmp_path: os.PathLike[str],
) -> None:
    path = os.path.join(tmp_path, "config.json")
    with open(path, "w") as f:
        f.write('{"credHelpers": {"a.example": "ecrpy"}, "credsStore": "ecrpy", "x": [1.10]}')
    change = docker_config.remove([], directory=str(tmp_path))
    assert sorted(change.removed) == ["a.example", "credsStore"]
    assert json.load(open(path)) == {"x": [1.1]} and "1.10" in open(path).read()
    backup_before = open(path + ".bak").read()
    mtime = os.stat(path).st_mtime_ns
    again = docker_config.remove([], directory=str(tmp_path))
    assert again.removed == [] and again.backup is None
    assert os.stat(path).st_mtime_ns == mtime and open(path + ".bak").read() == backup_before


def test_remove_without_a_config_creates_nothing(tmp_path: os.PathLike[str]) -> None:
    folder = os.path.join(tmp_path, "absent")
    change = docker_config.remove(["a.example"], directory=folder)
    assert change.removed == [] and change.kept == {"a.example": "not in credHelpers"}
    assert not os.path.exists(folder)


def test_remove_keeps_a_symlink_and_mode(tmp_path: os.PathLike[str]) -> None:
    real = os.path.join(tmp_path, "dotfiles.json")
    with open(real, "w") as f:
        json.dump(MIXED, f)
    os.chmod(real, 0o640)
    folder = os.path.join(tmp_path, "docker")
    os.mkdir(folder)
    os.symlink(real, os.path.join(folder, "config.json"))
    docker_config.remove([], directory=folder)
    assert os.path.islink(os.path.join(folder, "config.json"))
    assert json.load(open(real))["credHelpers"] == {"gcr.io": "gcloud"}
    assert os.stat(real).st_mode & 0o777 == 0o640
    assert json.load(open(real + ".bak")) == MIXED


def test_remove_dry_run_writes_nothing(tmp_path: os.PathLike[str]) -> None:
    path = _write_mixed(tmp_path)
    before = open(path).read()
    change = docker_config.remove([], directory=str(tmp_path), dry_run=True)
    assert sorted(change.removed) == ["a.example", "b.example:5000", "credsStore"]
    assert open(path).read() == before and not os.path.exists(path + ".bak")
