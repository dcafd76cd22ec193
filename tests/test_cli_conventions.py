"""Issue 12's "one CLI convention", offline, through the installed console scripts: usage errors,
descriptions, --help's epilog, version, "did you mean", the JSON error document, shell
completion and the import budget of --help. (AWS-backed --json and --debug: tests/e2e/
test_cli_json.py.)"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from credhelper import __version__
from credhelper.cli import main as cli_main
from tests.support import SYSTEM_PATH, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY, run_ecrpy

ROOT = Path(__file__).resolve().parents[1]
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An isolated environment with static keys and no AWS endpoint (nothing here calls AWS)."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    return {
        "HOME": str(home),
        "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{SYSTEM_PATH}",
        "ECRPY_CONFIG": str(tmp_path / "cfg" / "config.toml"),
        "ECRPY_CACHE_DIR": str(tmp_path / "cache"),
        "ECRPY_LOG_DIR": str(tmp_path / "logs"),
        "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
        "AWS_ACCESS_KEY_ID": TEST_ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "LANG": "C.UTF-8",
        "COLUMNS": "100",
    }


def _text(proc: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return proc.stdout.decode(), proc.stderr.decode()


# -- usage errors: the sub-command's usage, exit 2, "did you mean" ------------------------------
@pytest.mark.parametrize(
    ("args", "usage"),
    [
        (["cache"], "usage: ecrpy cache "),  # a required action missing (argparse)
        (["cache", "list", "--bogus"], "usage: ecrpy cache list "),
        (["whoami", "a", "b"], "usage: ecrpy whoami "),
        (["policy"], "usage: ecrpy policy "),
        (["completion", "tcsh"], "usage: ecrpy completion "),
        (["check", "push"], "usage: ecrpy check "),
    ],
)
def test_usage_error_shows_the_sub_commands_usage(
    env: dict[str, str], args: list[str], usage: str
) -> None:
    proc = run_ecrpy(env, *args)
    out, err = _text(proc)
    assert proc.returncode == 2, (out, err)
    assert err.startswith(usage), err
    assert "usage: ecrpy [-h]" not in err and "Traceback" not in err
    assert out == ""


def test_a_bad_value_is_one_line_with_the_fix_and_exit_2(env: dict[str, str]) -> None:
    """Found by the command, not by argparse (the host is not ECR): the charter's one line with
    cause and fix, exit 2, no usage block."""
    proc = run_ecrpy(env, "cache", "clear", "ghcr.io")
    out, err = _text(proc)
    assert proc.returncode == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("ecrpy: ") and "ghcr.io" in err


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (["cahce"], "did you mean 'cache'"),
        (["whoamii"], "did you mean 'whoami'"),
        (["cache", "lsit"], "did you mean 'list'"),
        (["policy", "simulat", "-"], "did you mean 'simulate'"),
        (["check", "psuh", "x"], "did you mean 'push'"),
        (["completion", "bsah"], "did you mean 'bash'"),
    ],
)
def test_misspelt_sub_command_gets_did_you_mean(
    env: dict[str, str], args: list[str], suggestion: str
) -> None:
    proc = run_ecrpy(env, *args)
    assert proc.returncode == 2
    assert suggestion in proc.stderr.decode()


def test_far_off_word_gets_no_suggestion(env: dict[str, str]) -> None:
    proc = run_ecrpy(env, "xyzzy")
    assert proc.returncode == 2 and b"invalid choice" in proc.stderr
    assert b"did you mean" not in proc.stderr


def test_every_command_and_sub_command_has_a_description() -> None:
    parser = cli_main.build_parser()  # every command's real parser
    children = [p for p in cli_main._parsers(parser) if p is not parser]
    names = {p.prog for p in children}
    assert {"ecrpy cache list", "ecrpy cache clear", "ecrpy policy simulate", "ecrpy push",
            "ecrpy doctor", "ecrpy completion", "ecrpy version"} <= names
    for child in children:
        assert child.description and len(child.description) > 10, child.prog


def test_the_static_command_table_matches_the_modules() -> None:
    """``ecrpy --help`` shows COMMANDS' summaries without importing the modules: each must be
    the one the module registers."""
    parser = cli_main.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    registered = {a.dest: a.help for a in sub._choices_actions}
    assert list(registered) == list(cli_main.COMMAND_NAMES)
    for name, _, summary in cli_main.COMMANDS:
        assert registered[name] == summary, name


def test_sub_command_help_is_its_own(env: dict[str, str]) -> None:
    proc = run_ecrpy(env, "cache", "clear", "--help")
    out, _ = _text(proc)
    assert proc.returncode == 0 and out.startswith("usage: ecrpy cache clear")
    assert "Remove every cached token" in out and "--debug" in out and "--json" in out


# -- ecrpy --help ends with the paths and the environment --------------------------------------
def test_help_ends_with_paths_and_environment(env: dict[str, str], tmp_path: Path) -> None:
    proc = run_ecrpy(env, "--help")
    out, _ = _text(proc)
    assert proc.returncode == 0
    epilog = out.split("\nfiles:\n", 1)[1]
    assert f"config  {env['ECRPY_CONFIG']}" in epilog
    assert f"cache   {env['ECRPY_CACHE_DIR']}" in epilog
    assert f"log     {env['ECRPY_LOG_DIR']}{os.sep}ecrpy.log" in epilog
    every_command = [name for name, _, _ in cli_main.COMMANDS]
    assert all(f"    {name}" in out.split("\nfiles:\n")[0] for name in every_command)
    # Every ECRPY_* variable the code reads is listed, and every AWS_* one it names.
    source = "\n".join(p.read_text() for p in (ROOT / "credhelper").rglob("*.py"))
    for name in set(re.findall(r"\bECRPY_[A-Z_]+\b", source)):
        assert f"  {name} " in epilog, name
    aws = set(re.findall(r"[\"'](AWS_[A-Z_]+)[\"']", source))
    flat = epilog.replace("(_FILE)", " AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
    flat = flat.replace("(_ECR|_ECR_PUBLIC|_STS|_IAM)",
                        " AWS_ENDPOINT_URL_ECR AWS_ENDPOINT_URL_ECR_PUBLIC AWS_ENDPOINT_URL_STS"
                        " AWS_ENDPOINT_URL_IAM")
    internal = {"AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_FILE", "AWS_CREDENTIAL_EXPIRATION"}
    missing = sorted(n for n in aws - internal if n not in flat.split())
    assert not missing, missing


# -- version --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args", [["--version"], ["version"], ["--debug", "version"]])
def test_ecrpy_version(env: dict[str, str], args: list[str]) -> None:
    proc = run_ecrpy(env, *args)
    assert proc.returncode == 0 and proc.stdout.decode() == f"ecrpy {__version__}\n"


def test_ecrpy_version_json(env: dict[str, str]) -> None:
    proc = run_ecrpy(env, "version", "--json")
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ecrpy.version/1" and doc["version"] == __version__


@pytest.mark.parametrize("flag", ["--version", "-v", "version"])
def test_helper_version_flags(env: dict[str, str], flag: str) -> None:
    helper = os.path.join(os.path.dirname(sys.executable), "docker-credential-ecrpy")
    proc = subprocess.run([helper, flag], capture_output=True, env=env, check=False)
    assert proc.returncode == 0
    assert proc.stdout.decode() == f"docker-credential-ecrpy (ecrpy) {__version__}\n"


# -- the JSON error document ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "code", "command"),
    [
        (["cache", "clear", "ghcr.io", "--json"], 2, "cache"),  # UsageError in the command
        (["cache", "list", "--json", "--bogus"], 2, "cache"),  # argparse's usage error
        (["check", "push", "ghcr.io/app:1", "--json"], 2, "check"),  # not an ECR registry
        (["policy", "simulate", "--json", "missing.json"], 1, "policy"),
    ],
)
def test_failure_under_json_is_an_error_document_with_the_same_exit_code(
    env: dict[str, str], args: list[str], code: int, command: str
) -> None:
    proc = run_ecrpy(env, *args)
    out, err = _text(proc)
    assert proc.returncode == code, (out, err)
    doc = json.loads(out)
    assert list(doc)[:4] == ["schema", "error", "hint", "exit_code"]
    assert doc["schema"] == "ecrpy.error/1" and doc["exit_code"] == code
    assert doc["command"] == command
    # the same cause as the stderr line
    last = err.strip().splitlines()[-1]
    assert doc["error"].split(";")[0][:40] in last


def test_without_json_a_failure_prints_nothing_on_stdout(env: dict[str, str]) -> None:
    proc = run_ecrpy(env, "policy", "simulate", "missing.json")
    assert proc.returncode == 1 and proc.stdout == b""
    assert proc.stderr.decode().startswith("ecrpy: missing.json: cannot read")


def test_policy_simulate_json_has_the_schema(env: dict[str, str]) -> None:
    request = {"principal": "arn:aws:iam::111122223333:user/u", "action": "ecr:PutImage",
               "resource": "arn:aws:ecr:us-east-1:111122223333:repository/app"}
    for extra in ([], ["--json"]):
        proc = run_ecrpy(env, "policy", "simulate", *extra, "-", stdin=json.dumps(request))
        assert proc.returncode == 3
        doc = json.loads(proc.stdout)
        assert doc["schema"] == "ecrpy.policy-simulate/1"
        assert doc["decision"] == "implicitly_denied"


def test_cache_list_and_clear_json_when_empty(env: dict[str, str]) -> None:
    proc = run_ecrpy(env, "cache", "list", "--json")
    doc = json.loads(proc.stdout)
    assert doc["schema"] == "ecrpy.cache-list/1" and doc["entries"] == []
    assert ISO_Z.match(doc["generated_at"])
    proc = run_ecrpy(env, "cache", "clear", "--json")
    doc = json.loads(proc.stdout)
    assert doc == {"schema": "ecrpy.cache-clear/1", "backend": "file", "registry": None,
                   "removed": 0}
    assert run_ecrpy(env, "cache", "clear").stdout == b"removed 0 cached tokens\n"


# -- --debug --------------------------------------------------------------------------------------
def test_debug_logs_to_stderr_and_the_file_keeps_its_level(env: dict[str, str]) -> None:
    for args in (["--debug", "cache", "list"], ["cache", "list", "--debug"],
                 ["cache", "--debug", "list"]):
        proc = run_ecrpy(env, *args)
        err = proc.stderr.decode()
        assert proc.returncode == 0, err
        assert "ecrpy: DEBUG cache list: file cache" in err, (args, err)
        assert TEST_SECRET_ACCESS_KEY not in err
    plain = run_ecrpy(env, "cache", "list")
    assert plain.stderr == b""
    log = Path(env["ECRPY_LOG_DIR"]) / "ecrpy.log"
    assert not log.exists() or "DEBUG" not in log.read_text()


# -- shell completion ----------------------------------------------------------------------------
def _bash_complete(script: str, *words: str) -> list[str]:
    """What the generated bash function offers for ``words`` (the last one being completed)."""
    driver = (
        f"source {script}\n"
        f"COMP_WORDS=(ecrpy {' '.join(repr(w) if w else chr(39) * 2 for w in words)})\n"
        f"COMP_CWORD={len(words)}\n"
        "_ecrpy_complete\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    proc = subprocess.run(["bash", "-c", driver], capture_output=True, check=True)
    return proc.stdout.decode().split()


@pytest.fixture
def bash_script(env: dict[str, str], tmp_path: Path) -> str:
    proc = run_ecrpy(env, "completion", "bash")
    assert proc.returncode == 0, proc.stderr
    path = tmp_path / "ecrpy.bash"
    path.write_bytes(proc.stdout)
    return str(path)


def test_bash_completion_completes_commands_sub_commands_and_options(bash_script: str) -> None:
    assert _bash_complete(bash_script, "ca") == ["cache"]
    assert _bash_complete(bash_script, "c") == ["configure", "cache", "check", "completion"]
    assert _bash_complete(bash_script, "cache", "") == ["list", "clear", "-h", "--help",
                                                        "--debug"]
    assert _bash_complete(bash_script, "cache", "l") == ["list"]
    assert _bash_complete(bash_script, "--debug", "cache", "list", "--j") == ["--json"]
    assert _bash_complete(bash_script, "check", "--method", "") == ["auto", "probe", "simulate",
                                                                    "evaluate"]
    assert _bash_complete(bash_script, "policy", "simulate", "--ex") == ["--explain"]
    assert _bash_complete(bash_script, "push", "--kms-key", "") == []
    assert _bash_complete(bash_script, "completion", "") == ["bash", "zsh", "fish", "-h",
                                                            "--help", "--debug"]


def _shell(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} is not installed")
    return exe


def test_zsh_completion_parses_and_registers(env: dict[str, str], tmp_path: Path) -> None:
    zsh = _shell("zsh")
    script = tmp_path / "_ecrpy"
    script.write_bytes(run_ecrpy(env, "completion", "zsh").stdout)
    subprocess.run([zsh, "-n", str(script)], check=True)
    probe = (f"autoload -U compinit; compinit -u -d {tmp_path}/zcd; source {script}; "
             "print -r -- ${_comps[ecrpy]}")
    proc = subprocess.run([zsh, "-f", "-c", probe], capture_output=True, check=True,
                          env={"HOME": str(tmp_path), "PATH": SYSTEM_PATH})
    assert proc.stdout.decode().strip() == "_ecrpy"


def test_fish_completion_parses_and_completes(env: dict[str, str], tmp_path: Path) -> None:
    fish = _shell("fish")
    script = tmp_path / "ecrpy.fish"
    script.write_bytes(run_ecrpy(env, "completion", "fish").stdout)
    subprocess.run([fish, "-n", str(script)], check=True)

    def complete(line: str) -> list[str]:
        proc = subprocess.run(
            [fish, "--no-config", "-c", f"source {script}; complete -C '{line}'"],
            capture_output=True, check=True, env={"HOME": str(tmp_path), "PATH": SYSTEM_PATH},
        )
        return [row.split("\t")[0] for row in proc.stdout.decode().splitlines()]

    assert complete("ecrpy ca") == ["cache"]
    assert sorted(complete("ecrpy cache ")) == ["clear", "list"]
    assert "--json" in complete("ecrpy whoami --")


# -- start-up: what --help and --version import ----------------------------------------------------
HEAVY = ("boto3", "botocore", "docker", "rich", "keyring", "requests", "urllib3", "logging",
         "json", "dataclasses", "typing", "tomllib", "platformdirs", "shutil", "credhelper.config",
         "credhelper.identity", "credhelper.permissions", "credhelper.cli.check",
         "credhelper.cli.whoami", "credhelper.cli.doctor", "credhelper.cli.configure",
         "credhelper.cli.transfer", "credhelper.cli.completion")


_LIST_MODULES = """
import atexit, runpy, sys
atexit.register(lambda: sys.stderr.write("MODULES " + " ".join(sorted(sys.modules)) + "\\n"))
sys.argv = ["ecrpy", *sys.argv[1:]]
runpy.run_module("credhelper.cli.main", run_name="__main__")
"""


def _imports(*args: str) -> set[str]:
    """Modules that ``python -m credhelper.cli.main ARGS`` has imported when it exits (from
    the source tree, whatever the install mode; runpy itself is the only extra)."""
    proc = subprocess.run(
        [sys.executable, "-c", _LIST_MODULES, *args],
        capture_output=True, cwd=ROOT, check=False, env={**os.environ, "COLUMNS": "100"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = next(x for x in proc.stderr.decode().splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize("args", [["--help"], ["--version"], ["version"]])
def test_help_and_version_import_no_heavy_module(args: list[str]) -> None:
    loaded = _imports(*args)
    assert "credhelper.cli.main" in loaded or "credhelper.cli" in loaded
    heavy = sorted(m for m in loaded if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == []


def test_a_commands_help_imports_only_that_command() -> None:
    loaded = _imports("cache", "--help")
    assert "credhelper.cli.cache" in loaded
    assert not loaded & {"credhelper.cli.check", "credhelper.cli.doctor", "boto3", "botocore",
                         "docker", "rich", "keyring"}


@pytest.mark.parametrize("args", [["--version"], ["version"]])
def test_version_imports_no_argparse(args: list[str]) -> None:
    """``ecrpy --version`` answers before any parser exists (argparse, re, gettext: ~6 ms);
    ``--help`` needs argparse, which shows the measurement sees it."""
    assert "argparse" not in _imports(*args)
    assert "argparse" in _imports("--help")


def test_push_imports_the_scan_rules_only_for_scan() -> None:
    """``--scan``/``--fail-on`` need image_scan and scan_findings (~5 ms of every push's
    start); parsing a push, and the transfer and pre-flight modules, import neither."""
    loaded = _imports("push", "--help")
    assert "credhelper.cli.transfer" in loaded
    assert not loaded & {"credhelper.image_scan", "credhelper.scan_findings"}
    proc = subprocess.run(
        [sys.executable, "-c", "import sys, credhelper.transfer, credhelper.preflight.orchestrate;"
         "print(' '.join(m for m in sys.modules if m.startswith('credhelper.')))"],
        capture_output=True, cwd=ROOT, check=True,
    )  # fmt: skip
    modules = set(proc.stdout.decode().split())
    assert "credhelper.transfer_scan" in modules
    assert not modules & {"credhelper.image_scan", "credhelper.scan_findings"}


def test_the_scan_timeout_default_is_image_scans() -> None:
    from credhelper import image_scan
    from credhelper.cli import transfer as cli_transfer
    from credhelper.transfer_result import Options

    assert Options.scan_timeout == cli_transfer._DEFAULT_SCAN_TIMEOUT == image_scan.DEFAULT_TIMEOUT
