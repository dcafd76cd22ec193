"""``ecrpy configure`` through the installed console script: another credsStore is never taken
over silently, --default needs a working keyring, --remove undoes exactly ecrpy's entries, and
--json follows the schema convention (success and error documents on stdout)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support import ecr_host, run_ecrpy, write_config

pytestmark = pytest.mark.e2e
HOST = ecr_host()
OTHER = ecr_host(region="eu-west-1")
ALIAS = "127.0.0.1:5999"
UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
WORKING_KEYRING = "keyrings.alt.file.PlaintextKeyring"  # what helper_env selects


def _config(env: dict[str, str]) -> Path:
    return Path(env["DOCKER_CONFIG"]) / "config.json"


def _one_line(proc: subprocess.CompletedProcess[bytes]) -> str:
    lines = proc.stderr.decode().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("ecrpy: ") and "Traceback" not in lines[0]
    return lines[0]


# -- --default and another credsStore ----------------------------------------------------------


@pytest.mark.parametrize("store", ["desktop", "osxkeychain", "pass", "wincred", "secretservice"])
def test_default_refuses_to_take_over_another_creds_store(
    helper_env: dict[str, str], store: str
) -> None:
    path = _config(helper_env)
    content = json.dumps({"credsStore": store, "auths": {"ghcr.io": {}}}, indent="\t")
    path.write_text(content)
    proc = run_ecrpy(helper_env, "configure", "--default", HOST)
    assert proc.returncode == 1, proc
    line = _one_line(proc)
    assert f'credsStore in {path} is already "{store}"' in line, line
    assert '--force replaces it with "ecrpy"' in line and "config.json.bak" in line, line
    assert proc.stdout == b""
    assert path.read_text() == content  # nothing at all written, not even HOST
    assert not path.with_name("config.json.bak").exists()


def test_force_replaces_another_creds_store_and_the_backup_keeps_it(
    helper_env: dict[str, str],
) -> None:
    path = _config(helper_env)
    path.write_text('{"credsStore": "desktop", "auths": {"ghcr.io": {"auth": "eDp5"}}}')
    proc = run_ecrpy(helper_env, "configure", "--default", "--force")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert 'replaced: credsStore "desktop" -> ecrpy' in out, out
    assert json.loads(path.read_text()) == {
        "credsStore": "ecrpy",
        "auths": {"ghcr.io": {"auth": "eDp5"}},
    }
    backup = json.loads(path.with_name("config.json.bak").read_text())
    assert backup["credsStore"] == "desktop"
    # a re-run is idempotent and needs no --force
    again = run_ecrpy(helper_env, "configure", "--default")
    assert again.returncode == 0 and b"already set: credsStore -> ecrpy" in again.stdout


def test_remove_puts_back_the_creds_store_force_replaced(helper_env: dict[str, str]) -> None:
    """A Docker Desktop user tries ecrpy as credsStore, then removes it: docker must find the
    Hub logins in "desktop" again, even after later edits overwrote config.json.bak."""
    path = _config(helper_env)
    path.write_text('{"credsStore": "desktop", "auths": {"ghcr.io": {}}}')
    assert run_ecrpy(helper_env, "configure", "--default", "--force").returncode == 0
    assert run_ecrpy(helper_env, "configure", HOST).returncode == 0  # another edit
    assert '"desktop"' not in path.with_name("config.json.bak").read_text()

    dry = run_ecrpy(helper_env, "configure", "--remove", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    doc = json.loads(dry.stdout)
    assert doc["restored"]["credsStore"].startswith('"desktop", which configure --force replaced')
    assert sorted(doc["changed"]) == sorted([HOST, "credsStore"])
    assert json.loads(path.read_text())["credsStore"] == "ecrpy"

    proc = run_ecrpy(helper_env, "configure", "--remove")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert re.search(
        r'restored: credsStore -> "desktop", which configure --force replaced at '
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",
        out,
    ), out
    assert f"removed: {HOST} -> ecrpy" in out, out
    assert json.loads(path.read_text()) == {"credsStore": "desktop", "auths": {"ghcr.io": {}}}
    again = run_ecrpy(helper_env, "configure", "--remove", "--default")
    assert 'left alone: credsStore (it is "desktop", not ecrpy)' in again.stdout.decode()


def test_force_with_an_unusable_state_folder_warns_on_one_line(
    helper_env: dict[str, str], tmp_path: Path
) -> None:
    (tmp_path / "a-file").write_text("")
    env = dict(helper_env, ECRPY_STATE_DIR=str(tmp_path / "a-file" / "state"))
    path = _config(env)
    path.write_text('{"credsStore": "pass"}')
    proc = run_ecrpy(env, "configure", "--default", "--force")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(path.read_text()) == {"credsStore": "ecrpy"}
    warnings = [w for w in proc.stderr.decode().splitlines() if "credsStore" in w]
    assert len(warnings) == 1 and "Traceback" not in proc.stderr.decode(), proc.stderr
    assert warnings[0].startswith('warning: could not record the replaced credsStore "pass"')
    assert "config.json.bak" in warnings[0]


@pytest.mark.parametrize(
    "backend", ["keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"]
)
def test_default_needs_a_working_keyring(helper_env: dict[str, str], backend: str) -> None:
    path = _config(helper_env)
    path.write_text("{}\n")
    env = dict(helper_env, PYTHON_KEYRING_BACKEND=backend)
    proc = run_ecrpy(env, "configure", "--default")
    assert proc.returncode == 1, proc
    line = _one_line(proc)
    assert "cannot make ecrpy docker's credsStore: no usable OS keyring backend" in line, line
    assert backend in line and "ecrpy configure REGISTRY" in line, line
    assert path.read_text() == "{}\n"


def test_default_with_a_working_keyring_sets_creds_store(helper_env: dict[str, str]) -> None:
    assert helper_env["PYTHON_KEYRING_BACKEND"] == WORKING_KEYRING
    proc = run_ecrpy(helper_env, "configure", "--default")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(_config(helper_env).read_text()) == {"credsStore": "ecrpy"}


def test_force_is_only_for_default(helper_env: dict[str, str]) -> None:
    proc = run_ecrpy(helper_env, "configure", "--force", HOST)
    assert proc.returncode == 2
    assert "--force only applies to configure --default" in _one_line(proc)
    assert not _config(helper_env).exists()


# -- --remove ----------------------------------------------------------------------------------


def _configured(env: dict[str, str]) -> Path:
    """config.json with ecrpy for HOST, OTHER, ALIAS and credsStore, next to others' entries."""
    write_config(
        env, f'[registries."{ALIAS}"]\naccount_id = "123456789012"\nregion = "us-east-1"\n'
    )
    path = _config(env)
    path.write_text(
        '{\n\t"auths": {"ghcr.io": {"auth": "eDp5"}},\n\t"credHelpers": {"gcr.io": "gcloud"},\n'
        '\t"psFormat": "table {{.ID}}",\n\t"n": 1.10\n}\n'
    )
    proc = run_ecrpy(env, "configure", "--default", HOST, OTHER, ALIAS)
    assert proc.returncode == 0, proc.stderr
    return path


def test_remove_named_hosts_keeps_everything_else(helper_env: dict[str, str]) -> None:
    path = _configured(helper_env)
    proc = run_ecrpy(helper_env, "configure", "--remove", HOST, f"https://{ALIAS}/v2/", "gcr.io")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert f"removed: {HOST} -> ecrpy" in out and f"removed: {ALIAS} -> ecrpy" in out, out
    assert 'left alone: gcr.io (it uses "gcloud", not ecrpy)' in out, out
    data = json.loads(path.read_text())
    assert data["credHelpers"] == {"gcr.io": "gcloud", OTHER: "ecrpy"}
    assert data["credsStore"] == "ecrpy"
    assert data["auths"] == {"ghcr.io": {"auth": "eDp5"}} and data["psFormat"] == "table {{.ID}}"
    assert '"n": 1.10' in path.read_text()  # numbers keep their text
    assert f'"{HOST}": "ecrpy"' in path.with_name("config.json.bak").read_text()


def test_remove_default_only_touches_creds_store(helper_env: dict[str, str]) -> None:
    path = _configured(helper_env)
    proc = run_ecrpy(helper_env, "configure", "--remove", "--default")
    assert proc.returncode == 0, proc.stderr
    assert "removed: credsStore -> ecrpy" in proc.stdout.decode()
    data = json.loads(path.read_text())
    assert "credsStore" not in data
    assert data["credHelpers"] == {
        "gcr.io": "gcloud",
        HOST: "ecrpy",
        OTHER: "ecrpy",
        ALIAS: "ecrpy",
    }
    # credsStore of another helper: left alone, said so
    path.write_text('{"credsStore": "desktop"}')
    proc = run_ecrpy(helper_env, "configure", "--remove", "--default")
    assert proc.returncode == 0
    assert 'left alone: credsStore (it is "desktop", not ecrpy)' in proc.stdout.decode()
    assert path.read_text() == '{"credsStore": "desktop"}'


def test_remove_everything_then_again_is_idempotent(helper_env: dict[str, str]) -> None:
    path = _configured(helper_env)
    proc = run_ecrpy(helper_env, "configure", "--remove")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(path.read_text())
    assert data == {
        "auths": {"ghcr.io": {"auth": "eDp5"}},
        "credHelpers": {"gcr.io": "gcloud"},
        "psFormat": "table {{.ID}}",
        "n": 1.1,
    }
    text, backup = path.read_text(), path.with_name("config.json.bak").read_text()
    stat = path.stat()
    again = run_ecrpy(helper_env, "configure", "--remove")
    assert again.returncode == 0, again.stderr
    assert "nothing to remove" in again.stdout.decode()
    assert path.read_text() == text and path.stat().st_mtime_ns == stat.st_mtime_ns
    assert path.with_name("config.json.bak").read_text() == backup


def test_remove_without_a_docker_config_creates_nothing(helper_env: dict[str, str]) -> None:
    proc = run_ecrpy(helper_env, "configure", "--remove", HOST)
    assert proc.returncode == 0, proc.stderr
    assert f"left alone: {HOST} (not in credHelpers)" in proc.stdout.decode()
    assert os.listdir(helper_env["DOCKER_CONFIG"]) == []


# -- --json ------------------------------------------------------------------------------------


def test_json_success_and_error_documents(helper_env: dict[str, str]) -> None:
    proc = run_ecrpy(helper_env, "configure", HOST, "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ecrpy.configure/1" and UTC.match(doc["generated_at"]), doc
    assert doc["action"] == "add" and doc["changed"] == [HOST] and doc["dry_run"] is False
    assert doc["docker_config"] == str(_config(helper_env)) and doc["backup"] is None

    proc = run_ecrpy(helper_env, "configure", "--remove", "--dry-run", "--json")
    doc = json.loads(proc.stdout)
    assert doc["action"] == "remove" and doc["changed"] == [HOST] and doc["dry_run"] is True
    assert json.loads(_config(helper_env).read_text())["credHelpers"] == {HOST: "ecrpy"}

    _config(helper_env).write_text('{"credsStore": "pass"}')
    proc = run_ecrpy(helper_env, "configure", "--default", "--json")
    assert proc.returncode == 1
    doc = json.loads(proc.stdout)
    assert doc == {
        "schema": "ecrpy.error/1",
        "error": doc["error"],
        "hint": doc["hint"],
        "exit_code": 1,
        "command": "configure",
    }
    assert '"pass"' in doc["error"] and "--force" in doc["hint"]
    assert len(proc.stderr.decode().splitlines()) == 1  # the same line for a human

    proc = run_ecrpy(helper_env, "configure", "ghcr.io", "--json")
    assert proc.returncode == 2
    assert json.loads(proc.stdout)["exit_code"] == 2


def test_default_refuses_a_keyring_that_does_not_answer(helper_env: dict[str, str]) -> None:
    repo = Path(__file__).resolve().parents[2]
    env = dict(
        helper_env,
        PYTHON_KEYRING_BACKEND="tests.support.broken_keyring.BrokenKeyring",
        PYTHONPATH=str(repo),
    )
    proc = run_ecrpy(env, "configure", "--default")
    assert proc.returncode == 1, proc
    line = _one_line(proc)
    assert "the OS keyring (tests.support.broken_keyring.BrokenKeyring) does not answer " in line
    assert "(KeyringLocked)" in line and "the store is locked" not in line, line
    assert not _config(helper_env).exists()
