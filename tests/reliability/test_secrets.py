"""No secret outside the places made for it, and those places private.

Runs last in this folder (alphabetical order): the collector (``secret_sink``) then holds the
stderr of every helper run of the suite, every error line printed on stdout, in-process error
texts, and the log, cache and state folders every test used. Token entries themselves
(``tokens/*.json`` and their temporary files) hold the token by design and are checked for
permissions instead; everything else — logs, the config snapshot, the keyring index, the
credentials index, stderr, error messages — must hold none of: the ECR passwords (and their
base64 form), the secret access keys, the session tokens.
"""

from __future__ import annotations

import json
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from credhelper.errors import EcrpyError
from tests.reliability.conftest import (
    ALICE,
    BOB,
    GAT,
    HOSTS,
    SecretSink,
    helper,
)
from tests.support import MOTO_ECR_PASSWORD, write_config
from tests.support.aws_server import AwsServer

STORED_SECRET = "reliability-stored-password-0123456789"


def _is_token_entry(path: Path) -> bool:
    return path.parent.name == "tokens" and (path.suffix == ".json" or path.name.endswith(".tmp"))


def _exercise(env: dict[str, str], aws: AwsServer, sink: SecretSink) -> None:
    """A bit of everything that writes logs, indexes and snapshots."""
    sink.secret(STORED_SECRET)
    write_config(env, "[cache]\nmin_remaining = 60\n")
    for ident in (ALICE, BOB):
        e = ident.env(env)
        assert helper(e, "get", HOSTS[0], label="secrets").returncode == 0
        aws.set_fault(GAT, "500")
        helper(dict(e, ECRPY_LOG_LEVEL="DEBUG"), "get", HOSTS[1], label="secrets")
        aws.clear_faults()
        aws.set_fault(GAT, "accessdenied")
        helper(e, "get", HOSTS[2], label="secrets")
        aws.clear_faults()
    creds = {"ServerURL": "https://registry.example.test", "Username": "u", "Secret": STORED_SECRET}
    assert helper(env, "store", json.dumps(creds), label="secrets").returncode == 0
    assert helper(env, "get", "registry.example.test", label="secrets").returncode == 0
    assert helper(env, "list", label="secrets").returncode == 0
    write_config(env, '[cache]\nbackend = "keyring"\n')
    assert helper(env, "get", HOSTS[3], label="secrets").returncode == 0
    assert (
        helper(
            env,
            "store",
            b'{"ServerURL": "x.test", "Secret": "' + STORED_SECRET.encode() + b'"}',
            label="secrets",
        ).returncode
        == 1
    )


@pytest.fixture
def exercised(
    aws: AwsServer, helper_env: dict[str, str], secret_sink: SecretSink
) -> dict[str, str]:
    env = dict(helper_env, ECRPY_STATE_DIR=str(Path(helper_env["HOME"]) / "state"))
    secret_sink.env(env)
    secret_sink.dirs.append(("ECRPY_STATE_DIR", Path(env["ECRPY_STATE_DIR"])))
    _exercise(env, aws, secret_sink)
    return env


def _files(sink: SecretSink) -> Iterator[tuple[str, Path]]:
    seen: set[Path] = set()
    for label, folder in sink.dirs:
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path in seen or not path.is_file() or path.is_symlink():
                continue
            seen.add(path)
            yield label, path


def test_no_secret_in_logs_stderr_indexes_or_errors(
    exercised: dict[str, str], secret_sink: SecretSink
) -> None:
    secrets = {s for s in secret_sink.secrets if len(s) >= 8}
    hits: list[str] = []
    for label, text in secret_sink.texts:
        for secret in secrets:
            if secret.encode() in text:
                hits.append(f"{label}: {secret[:6]}…")
    files = 0
    for label, path in _files(secret_sink):
        if _is_token_entry(path):
            continue
        files += 1
        data = path.read_bytes()
        for secret in secrets:
            if secret.encode() in data:
                hits.append(f"{label} {path}: {secret[:6]}…")
    print(
        f"[secrets] scanned {len(secret_sink.texts)} stderr/error texts and {files} files "
        f"for {len(secrets)} secrets: {len(hits)} hits"
    )
    assert hits == []
    assert files > 0 and secret_sink.texts


def test_cache_state_and_log_files_are_private(exercised: dict[str, str]) -> None:
    roots = [
        Path(exercised["ECRPY_CACHE_DIR"]),
        Path(exercised["ECRPY_LOG_DIR"]),
        Path(exercised["ECRPY_STATE_DIR"]),
    ]
    checked = 0
    for root in roots:
        assert root.is_dir(), root
        for path in [root, *root.rglob("*")]:
            st = path.lstat()
            checked += 1
            assert st.st_uid == os.getuid(), path
            if stat.S_ISDIR(st.st_mode):
                assert stat.S_IMODE(st.st_mode) == 0o700, (path, oct(st.st_mode))
            else:
                assert stat.S_IMODE(st.st_mode) == 0o600, (path, oct(st.st_mode))
    print(f"[secrets] {checked} cache/state/log paths: files 0600, folders 0700")
    tokens = list((Path(exercised["ECRPY_CACHE_DIR"]) / "tokens").glob("*.json"))
    assert tokens and all(MOTO_ECR_PASSWORD in p.read_text() for p in tokens)


def test_suite_wide_ecrpy_folders_are_private(secret_sink: SecretSink) -> None:
    """Every ecrpy cache/log folder the suite's helpers created (folders a test made insecure
    on purpose, or that belong to someone else, are skipped and counted)."""
    checked = skipped = 0
    bad: list[str] = []
    for label, root in secret_sink.dirs:
        if label not in ("ECRPY_CACHE_DIR", "ECRPY_LOG_DIR", "crash cache") or not root.is_dir():
            continue
        st = root.stat()
        if stat.S_IMODE(st.st_mode) != 0o700 or st.st_uid != os.getuid():
            skipped += 1
            continue
        for path in root.rglob("*"):
            st = path.lstat()
            checked += 1
            want = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if stat.S_IMODE(st.st_mode) != want:
                bad.append(f"{path} {oct(stat.S_IMODE(st.st_mode))}")
    print(
        f"[secrets] suite-wide: {checked} paths checked, {skipped} deliberately odd roots skipped"
    )
    assert bad == []


@pytest.fixture
def log_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    from credhelper import logs

    monkeypatch.setenv("ECRPY_LOG_DIR", str(tmp_path / "logs"))
    logger = logging.getLogger("ecrpy")
    old = list(logger.handlers)
    logger.handlers = []
    monkeypatch.setattr(logs, "_LOGGER", None)
    try:
        yield tmp_path / "logs" / "ecrpy.log"
    finally:
        for handler in logger.handlers:
            handler.close()
        logger.handlers = old


def _aws_errors() -> list[Exception]:
    import botocore.exceptions as be

    secret, token = BOB.secret, BOB.session_token or ""
    return [
        be.ClientError(
            {
                "Error": {
                    "Code": "UnrecognizedClientException",
                    "Message": f"The security token included in the request is invalid: {token}",
                }
            },
            "GetAuthorizationToken",
        ),
        be.ClientError(
            {
                "Error": {
                    "Code": "SignatureDoesNotMatch",
                    "Message": f"signature computed with {secret} does not match",
                }
            },
            "GetAuthorizationToken",
        ),
        be.CredentialRetrievalError(
            provider="custom-process", error_msg=f"process said {secret} {token}"
        ),
        be.PartialCredentialsError(provider="env", cred_var=secret),
    ]


def test_exception_texts_never_log_aws_secrets(
    log_here: Path, monkeypatch: pytest.MonkeyPatch, secret_sink: SecretSink
) -> None:
    from credhelper import aws_errors
    from credhelper.registry import parse

    for key, value in BOB.env({}).items():
        monkeypatch.setenv(key, value)
    registry = parse(HOSTS[0])
    leaks = []
    for exc in _aws_errors():
        err = aws_errors.translate(exc, registry, None)
        assert isinstance(err, EcrpyError)
        line = err.one_line()
        secret_sink.text(f"translate {type(exc).__name__}", line)
        for s in (BOB.secret, BOB.session_token or ""):
            if s in line:
                leaks.append(f"message of {type(exc).__name__}")
    log = log_here.read_text() if log_here.exists() else ""
    for s, name in ((BOB.secret, "secret key"), (BOB.session_token or "", "session token")):
        if s in log:
            leaks.append(f"{name} in ecrpy.log")
    assert leaks == []


def test_exception_messages_shown_to_users_hold_no_aws_secret(
    log_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What reaches docker (stderr / stdout) is built from our own words, never AWS's text."""
    from credhelper import aws_errors
    from credhelper.registry import parse

    registry = parse(HOSTS[0])
    for exc in _aws_errors():
        line = aws_errors.translate(exc, registry, None).one_line()
        assert BOB.secret not in line and (BOB.session_token or "") not in line, line
