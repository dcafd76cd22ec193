"""``configure --default --force`` remembers the credsStore it replaced and ``--remove`` puts it
back (the backup alone is overwritten by the next edit); a damaged or unwritable record never
breaks either command."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from credhelper import docker_config, replaced_store


@pytest.fixture(autouse=True)
def state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setenv("ECRPY_STATE_DIR", str(folder))
    return folder


def _docker(tmp_path: Path, doc: dict[str, object], name: str = "docker") -> Path:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(doc))
    return folder


def _read(folder: Path) -> object:
    return json.loads((folder / "config.json").read_text())


def _force(folder: Path) -> docker_config.Change:
    return docker_config.configure([], default=True, directory=str(folder), force=True)


@pytest.mark.parametrize("everything", [False, True], ids=["--remove --default", "--remove"])
def test_remove_restores_the_creds_store_force_replaced(
    tmp_path: Path, state: Path, everything: bool
) -> None:
    folder = _docker(tmp_path, {"credsStore": "desktop", "auths": {"ghcr.io": {}}})
    assert _force(folder).warnings == []
    record = Path(replaced_store.record_path())
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    # Another edit overwrites the backup: the record is what still knows "desktop".
    docker_config.configure(["h.example"], directory=str(folder))
    assert json.loads((folder / "config.json.bak").read_text())["credsStore"] == "ecrpy"

    change = docker_config.remove([], default=not everything, directory=str(folder))
    assert "credsStore" in change.removed
    assert change.restored["credsStore"].startswith('"desktop", which configure --force replaced')
    expected: dict[str, object] = {"credsStore": "desktop", "auths": {"ghcr.io": {}}}
    if not everything:
        expected["credHelpers"] = {"h.example": "ecrpy"}
    assert _read(folder) == expected
    assert not record.exists()  # used once: the next --remove finds nothing of ecrpy's
    again = docker_config.remove([], default=True, directory=str(folder))
    assert again.removed == [] and again.kept == {"credsStore": 'it is "desktop", not ecrpy'}


def test_dry_run_says_it_would_restore_and_keeps_the_record(tmp_path: Path) -> None:
    folder = _docker(tmp_path, {"credsStore": "pass"})
    _force(folder)
    before = (folder / "config.json").read_text()
    change = docker_config.remove([], default=True, directory=str(folder), dry_run=True)
    assert change.restored and change.restored["credsStore"].startswith('"pass"')
    assert (folder / "config.json").read_text() == before
    assert replaced_store.recall(str(folder / "config.json")) is not None


def test_records_are_per_config_file_and_follow_a_symlink(tmp_path: Path) -> None:
    first = _docker(tmp_path, {"credsStore": "desktop"}, "first")
    second = _docker(tmp_path, {"credsStore": "osxkeychain"}, "second")
    # a dotfile manager's link: the record is the target's, whichever name is used
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "config.json").symlink_to(second / "config.json")
    _force(first)
    _force(linked)
    docker_config.remove([], default=True, directory=str(second))
    assert _read(second) == {"credsStore": "osxkeychain"}
    assert (linked / "config.json").is_symlink()
    docker_config.remove([], default=True, directory=str(first))
    assert _read(first) == {"credsStore": "desktop"}


def test_taking_an_empty_store_forgets_an_older_record(tmp_path: Path) -> None:
    """ecrpy replaced nothing this time: a later --remove must not bring back a store the
    user had already dropped by hand."""
    folder = _docker(tmp_path, {"credsStore": "desktop"})
    _force(folder)
    (folder / "config.json").write_text("{}")  # the user removed credsStore by hand
    docker_config.configure([], default=True, directory=str(folder))
    docker_config.remove([], default=True, directory=str(folder))
    assert _read(folder) == {}


def test_a_store_that_is_no_string_is_not_remembered(tmp_path: Path) -> None:
    folder = _docker(tmp_path, {"credsStore": 5})
    change = _force(folder)
    assert change.replaced == {"credsStore": "5"}
    assert not Path(replaced_store.record_path()).exists()
    docker_config.remove([], default=True, directory=str(folder))
    assert _read(folder) == {}


DAMAGE = {
    "truncated": b'{"/x/config.json": {"credsStore": "desk',
    "binary": bytes(range(256)),
    "empty": b"",
    "not an object": b'["desktop"]',
    "entry of the wrong shape": None,  # written below: the real key, a number for the store
    "nested too deeply": b"[" * 100_000,
    "huge": b" " * (2 * 1024 * 1024) + b"{}",
    "a FIFO": None,  # made below: reading must not block
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_record_reads_as_none(tmp_path: Path, damage: str) -> None:
    """--remove then deletes credsStore as it did before records existed; nothing raises."""
    folder = _docker(tmp_path, {"credsStore": "ecrpy", "n": 1})
    record = Path(replaced_store.record_path())
    record.parent.mkdir(mode=0o700)
    raw = DAMAGE[damage]
    if damage == "a FIFO":
        os.mkfifo(record)
    else:
        if raw is None:
            key = os.path.realpath(folder / "config.json")
            raw = json.dumps({key: {"credsStore": 5}}).encode()
        record.write_bytes(raw)
    change = docker_config.remove([], default=True, directory=str(folder))
    assert change.removed == ["credsStore"] and change.restored == {}
    assert _read(folder) == {"n": 1}
    # and a later --force writes a good record over it
    (folder / "config.json").write_text('{"credsStore": "desktop"}')
    _force(folder)
    assert replaced_store.recall(str(folder / "config.json")) is not None


def test_a_record_that_is_a_folder_reads_as_none(tmp_path: Path) -> None:
    folder = _docker(tmp_path, {"credsStore": "ecrpy"})
    os.makedirs(replaced_store.record_path(), mode=0o700)
    change = docker_config.remove([], default=True, directory=str(folder))
    assert change.removed == ["credsStore"] and _read(folder) == {}


def test_an_unusable_state_folder_warns_and_the_edit_still_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ECRPY_STATE_DIR below a regular file (ENOTDIR, whoever runs it, root too)."""
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("ECRPY_STATE_DIR", str(tmp_path / "a-file" / "state"))
    folder = _docker(tmp_path, {"credsStore": "desktop"})
    change = _force(folder)
    assert _read(folder) == {"credsStore": "ecrpy"}
    assert len(change.warnings) == 1, change.warnings
    warning = change.warnings[0]
    assert 'could not record the replaced credsStore "desktop"' in warning
    assert "config.json.bak" in warning and "\n" not in warning
    assert json.loads((folder / "config.json.bak").read_text()) == {"credsStore": "desktop"}
    # and --remove, unable to read a record, deletes credsStore as before
    change = docker_config.remove([], default=True, directory=str(folder))
    assert change.removed == ["credsStore"] and change.restored == {} and _read(folder) == {}


def test_a_state_folder_others_can_write_is_refused_with_a_warning(
    tmp_path: Path, state: Path
) -> None:
    """The record decides what docker's credsStore becomes: never read it from, or write it
    to, a folder another user could change (fsutil's rule for every state file)."""
    if os.name == "nt":
        pytest.skip("mode bits do not protect a Windows folder")
    state.mkdir(mode=0o700)
    os.chmod(state, 0o777)
    folder = _docker(tmp_path, {"credsStore": "desktop"})
    change = _force(folder)
    assert _read(folder) == {"credsStore": "ecrpy"}
    assert change.warnings and "writable by group or others" in change.warnings[0]
