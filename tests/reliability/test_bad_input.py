"""Garbage on stdin and in the config file: no traceback, exit 0 or 1, protocol-valid stdout.

Most inputs go through ``credhelper.protocol.run(action)`` in-process with a patched
``sys.stdin`` (``_read_stdin`` reads ``sys.stdin.buffer``), which is ~1000x cheaper than a
process per input; a smaller sample goes through the real console script, and 100 MB of stdin
checks that memory stays bounded (the helper reads at most 64 KiB + 1 bytes).
"""

from __future__ import annotations

import io
import json
import logging
import os
import string
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credhelper import protocol
from tests.reliability.conftest import (
    HOSTS,
    SecretSink,
    helper,
    helper_path,
    scaled,
)
from tests.support import MOTO_ACCOUNT
from tests.support.aws_server import AwsServer

pytestmark = pytest.mark.soak

# Counts (full scale: 4 x 3000 in-process + 400 processes + 2000 configs = 14 400 inputs).
INPROC_PER_ACTION = scaled(3000, 500)
PROCESS_INPUTS = scaled(400, 60)
CONFIG_INPUTS = scaled(2000, 300)


def _report(name: str, count: int) -> None:
    """Shown with ``-rP`` or ``-s``; a count is reported where it is measured, not asserted."""
    print(f"[bad input] {name}: {count}")

NOT_FOUND = protocol.NOT_FOUND
ACTIONS = ("get", "store", "erase", "list")


# -- input strategies -------------------------------------------------------------------------

ACCOUNTS = st.sampled_from(
    [
        MOTO_ACCOUNT,
        "12345678901",
        "1234567890123",
        "12345678901a",
        "000000000000",
        "\uff11\uff12\uff13",
    ]  # full-width digits
)
SERVICES = st.sampled_from(
    ["dkr.ecr", "dkr.ecr-fips", "dkr-ecr", "dkr-ecr-fips", "dkr.ecr.fips", "dkr", "ecr", "DKR.ECR"]
)
REGIONS = st.sampled_from(
    [
        "us-east-1",
        "eu-west-1",
        "us-gov-west-1",
        "cn-north-1",
        "us-iso-east-1",
        "us-east-01",
        "useast1",
        "us-east-1.",
        "xx-yy-1",
        "us-east-1x",
        "US-EAST-1",
    ]
)
DOMAINS = st.sampled_from(
    [
        "amazonaws.com",
        "amazonaws.com.cn",
        "on.aws",
        "amazonaws.eu",
        "amazonaws.com.evil.example",
        "amazonaws.co",
        "amazonaws.com.",
        "c2s.ic.gov",
        "amazonaws.com:443",
        "amazonaws.com:5000",
        "amazonaws.com:0",
        "amazonaws.com:99999",
        "am\u0430zonaws.com",
    ]  # Cyrillic a
)
WRAPS = st.sampled_from(
    [
        "{}",
        "https://{}",
        "http://{}",
        "{}/v2/",
        "{}/team/app",
        "  {}\n",
        "ftp://{}",
        "https://user:pw@{}",
        "{}?x=1",
        "{}#frag",
        "evil.example/{}",
        "{}\x00",
        "\t{}\r\n",
        "https://{}:443/v2/",
        "{}\\",
        "//{}",
        "https:/{}",
        "[{}]",
        "{}.",
        "*.{}",
    ]
)


@st.composite
def lookalike_hosts(draw: st.DrawFn) -> str:
    host = ".".join([draw(ACCOUNTS), draw(SERVICES), draw(REGIONS), draw(DOMAINS)])
    if draw(st.booleans()):
        host = draw(st.sampled_from([host.upper(), host.replace(".", "..", 1), "x" + host]))
    return draw(WRAPS).format(host)


JSON_LEAVES = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
CRED_FIELD = JSON_VALUES | lookalike_hosts() | st.sampled_from(HOSTS) | st.just("")


@st.composite
def credential_docs(draw: st.DrawFn) -> bytes:
    doc: dict[str, Any] = {}
    for name in ("ServerURL", "Username", "Secret"):
        if draw(st.integers(0, 5)):
            doc[draw(st.sampled_from([name, name.lower(), name + " "]))] = draw(CRED_FIELD)
    if draw(st.booleans()):
        doc.update(draw(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3)))
    return json.dumps(doc).encode()


SIZES = st.sampled_from([65535, 65536, 65537, 70000, 300_000])
STDIN = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.binary(max_size=50).map(lambda b: b + b"\xff\xfe" + b),  # invalid UTF-8
    SIZES.map(lambda n: b"a" * n),
    SIZES.map(lambda n: HOSTS[0].encode() + b" " * (n - len(HOSTS[0]))),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    credential_docs(),
    lookalike_hosts().map(lambda h: h.encode("utf-8", "surrogatepass")),
    st.sampled_from(HOSTS).map(str.encode),
    st.sampled_from(
        [
            "public.ecr.aws",
            "registry-1.docker.io",
            "h.test",
            "localhost:5000",
            "[::1]:5000",
            "127.0.0.1:5999",
        ]
    ).map(str.encode),
)


# -- protocol validity ------------------------------------------------------------------------


def assert_protocol_valid(action: str, out: Any) -> None:
    assert out.code in (0, 1), (action, out.code)
    stdout = out.stdout
    assert isinstance(stdout, str)
    assert "internal error" not in stdout, stdout
    assert "Traceback" not in stdout
    if out.hint is not None:
        assert "\n" not in out.hint and "Traceback" not in out.hint
        assert "internal error" not in out.hint, out.hint
    if out.code == 1:
        assert stdout == NOT_FOUND or (stdout and "\n" not in stdout), (action, stdout)
        return
    if action == "get":
        data = json.loads(stdout)
        assert set(data) == {"ServerURL", "Username", "Secret"}
        assert all(isinstance(v, str) for v in data.values())
    elif action == "list":
        data = json.loads(stdout)
        assert isinstance(data, dict)
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in data.items())
    else:
        assert stdout == "", (action, stdout)


# -- the in-process harness -------------------------------------------------------------------


class InProcess:
    """protocol.run() in this process, in an isolated environment, watchdog disarmed."""

    def __init__(self, env: dict[str, str], sink: SecretSink) -> None:
        self.env = env
        self.sink = sink
        self.calls = 0

    def run(self, action: str, data: bytes) -> Any:
        stdin = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
        old = sys.stdin
        sys.stdin = stdin
        try:
            out = protocol.run(action)
        finally:
            sys.stdin = old
        self.calls += 1
        if out.code != 0:
            self.sink.text(f"inproc {action} stdout", out.stdout)
        if out.hint:
            self.sink.text(f"inproc {action} hint", out.hint)
        return out


@pytest.fixture
def inproc(
    aws: AwsServer,
    helper_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    secret_sink: SecretSink,
) -> Iterator[InProcess]:
    import keyring
    import keyring.core
    from keyrings.alt.file import PlaintextKeyring

    from credhelper import logs

    env = dict(helper_env)
    env["ECRPY_STATE_DIR"] = str(tmp_path / "state")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    for key in list(os.environ):
        if key.startswith(("AWS_", "ECRPY_", "XDG_", "DOCKER_")):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    # A watchdog firing in-process would os._exit() pytest: these runs never block anyway
    # (the moto server answers at once).
    # (arm_watchdog does nothing once the state holds an output lock.)
    import threading

    monkeypatch.setattr(protocol._STATE, "lock", threading.Lock())
    # Log into this test's folder, then put the process-wide logger back as it was.
    ecrpy_logger = logging.getLogger("ecrpy")
    old_handlers = list(ecrpy_logger.handlers)
    monkeypatch.setattr(logs, "_LOGGER", None)
    ecrpy_logger.handlers = []
    previous_keyring = keyring.core._keyring_backend
    kr = PlaintextKeyring()
    kr.file_path = str(tmp_path / "keyring.cfg")
    keyring.set_keyring(kr)
    secret_sink.env(env)
    try:
        yield InProcess(env, secret_sink)
    finally:
        for handler in ecrpy_logger.handlers:
            handler.close()
        ecrpy_logger.handlers = old_handlers
        keyring.core._keyring_backend = previous_keyring


FUZZ = settings(
    max_examples=INPROC_PER_ACTION,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
    database=None,
)


@pytest.mark.parametrize("action", ["get", "store", "erase"])
def test_fuzz_stdin_in_process(inproc: InProcess, action: str) -> None:
    @FUZZ
    @given(data=STDIN)
    def check(data: bytes) -> None:
        assert_protocol_valid(action, inproc.run(action, data))

    check()
    _report(f"in-process {action}", inproc.calls)


def test_fuzz_list_with_garbage_state(inproc: InProcess) -> None:
    """``list`` reads no stdin; fuzz what it reads instead: the credentials index and cache."""
    state = Path(inproc.env["ECRPY_STATE_DIR"])
    tokens = Path(inproc.env["ECRPY_CACHE_DIR"]) / "tokens"

    @FUZZ
    @given(index=STDIN, entry=STDIN, data=STDIN)
    def check(index: bytes, entry: bytes, data: bytes) -> None:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
        tokens.mkdir(mode=0o700, parents=True, exist_ok=True)
        (state / "credentials-index.json").write_bytes(index)
        victim = tokens / ("0" * 64 + "-aws_us-east-1_123456789012.json")
        victim.write_bytes(entry)
        victim.chmod(0o600)
        assert_protocol_valid("list", inproc.run("list", data))

    check()
    _report("in-process list (garbage index/cache files)", inproc.calls)


# -- real processes ---------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["get", "store", "erase", "list"])
def test_fuzz_stdin_real_process(aws: AwsServer, renv: dict[str, str], action: str) -> None:
    runs = 0

    @settings(
        max_examples=max(5, PROCESS_INPUTS // 4),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=STDIN)
    def check(data: bytes) -> None:
        nonlocal runs
        run = helper(renv, action, data, label="fuzz")
        runs += 1
        assert run.returncode in (0, 1), run
        assert b"Traceback" not in run.stdout + run.stderr
        assert b"internal error" not in run.stdout
        out = run.stdout.decode("utf-8")
        assert out == "" or out.endswith("\n")
        lines = out.splitlines()
        assert len(lines) <= 1
        if run.returncode == 0 and action in ("get", "list"):
            json.loads(out)
        if run.returncode == 0 and action == "get":
            assert set(json.loads(out)) == {"ServerURL", "Username", "Secret"}
        assert len(run.stderr.decode().splitlines()) <= 1

    check()
    _report(f"process {action}", runs)


# Measured by a small launcher: a child forked from pytest itself would report pytest's own
# peak RSS (Linux keeps the pre-exec high-water mark in ru_maxrss).
_LAUNCHER = """
import resource, subprocess, sys
feed = sys.argv[1]
proc = subprocess.Popen(
    sys.argv[2:], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
)
if feed == "huge":
    chunk = b"A" * (1 << 20)
    try:
        for _ in range(100):
            proc.stdin.write(chunk)
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
else:
    proc.stdin.write(b"h.test")
    proc.stdin.close()
out = proc.stdout.read() + proc.stderr.read()
code = proc.wait()
sys.stdout.buffer.write(b"%d %d\\n" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, code))
sys.stdout.buffer.write(out)
"""


def _maxrss_kb(cmd: list[str], env: dict[str, str], feed: str) -> tuple[int, bytes, int]:
    """(peak RSS in kB, stdout + stderr, exit code) of one run of ``cmd``."""
    proc = subprocess.run(
        ["/usr/bin/env", "-i", sys.executable, "-S", "-c", _LAUNCHER, feed, *cmd],
        capture_output=True,
        env=env,
        check=True,
        timeout=60,
    )
    head, _, out = proc.stdout.partition(b"\n")
    rss, code = (int(x) for x in head.split())
    return rss, out, code


@pytest.mark.parametrize("action", ["get", "store", "erase"])
def test_hundred_megabytes_of_stdin_keeps_memory_small(renv: dict[str, str], action: str) -> None:
    cmd = ["/usr/bin/env", *(f"{k}={v}" for k, v in renv.items()), helper_path(renv), action]
    base_rss, _, _ = _maxrss_kb(cmd, renv, "small")
    rss, out, code = _maxrss_kb(cmd, renv, "huge")
    print(
        f"[bad input] 100 MB stdin to {action}: peak RSS {rss // 1024} MB "
        f"(with a 6-byte input {base_rss // 1024} MB)"
    )
    _report(f"100MB {action} peak RSS MB", rss // 1024)
    assert code == 1
    assert b"input too large" in out, out
    assert rss < base_rss + 8 * 1024  # well under 100 MB: it never read the whole input
    # Through a file as well (a redirect rather than a pipe).
    big = Path(renv["HOME"]) / "big.bin"
    with open(big, "wb") as f:
        f.truncate(100 << 20)
    with open(big, "rb") as f:
        proc = subprocess.run(cmd[-2:], stdin=f, capture_output=True, env=renv, check=False)
    assert proc.returncode == 1 and b"input too large" in proc.stdout + proc.stderr
    big.unlink()


# -- config file fuzzing ----------------------------------------------------------------------

TOML_KEYS = st.sampled_from(
    ["account_id", "region", "profile", "role_arn", "backend", "min_remaining", "x", "", "é"]
)
TOML_SCALARS = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        [
            '"123456789012"',
            '"us-east-1"',
            '"file"',
            '"keyring"',
            '"none"',
            "true",
            '"arn:aws:iam::123456789012:role/r"',
            '""',
            "1979-05-27T07:32:00Z",
            "nan",
            "inf",
            "[]",
            "{}",
            '"default"',
            "1e400",
            '"nope"',
            "0x10",
            "-0",
        ]
    ),
    st.text(alphabet=string.printable, max_size=20).map(json.dumps),
)
TOML_HEADERS = st.sampled_from(
    [
        "[cache]",
        "[registries]",
        f'[registries."{HOSTS[0]}"]',
        '[registries."127.0.0.1:5999"]',
        "[registries.x]",
        "[other]",
        "[[registries]]",
        '[registries."a"."b"]',
        "[cache.sub]",
        "",
    ]
)


@st.composite
def toml_documents(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        lines.append(draw(TOML_HEADERS))
        for _ in range(draw(st.integers(0, 4))):
            key = draw(TOML_KEYS) or '""'
            lines.append(f"{key} = {draw(TOML_SCALARS)}")
    text = "\n".join(lines)
    if draw(st.integers(0, 9)) == 0:  # mutate a byte now and then
        pos = draw(st.integers(0, max(0, len(text))))
        text = text[:pos] + draw(st.sampled_from(["[", "]", '"', "=", "\x00", "\n"])) + text[pos:]
    return text.encode("utf-8", "surrogatepass")


# Valid UTF-8 only here: a config that is not UTF-8 at all has its own test below.
CONFIGS = st.one_of(
    toml_documents(),
    st.binary(max_size=200).map(lambda b: b.decode("utf-8", "replace").encode()),
    st.text(max_size=100).map(str.encode),
)


def test_fuzz_config_file(inproc: InProcess, tmp_path: Path) -> None:
    from credhelper import config as config_mod
    from credhelper.errors import ConfigError

    configs = tmp_path / "configs"
    configs.mkdir()
    n = 0

    @settings(
        max_examples=CONFIG_INPUTS,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(doc=CONFIGS, host=st.sampled_from([HOSTS[0], HOSTS[1], "127.0.0.1:5999", "h.test"]))
    def check(doc: bytes, host: str) -> None:
        nonlocal n
        n += 1
        # A fresh file each time: the snapshot is keyed by (path, mtime, size, inode), and two
        # same-size rewrites within one timestamp tick would look unchanged.
        path = configs / f"c{n}.toml"
        path.write_bytes(doc)
        os.environ["ECRPY_CONFIG"] = str(path)
        try:
            config_mod.load()
        except ConfigError as exc:
            assert "\n" not in exc.one_line()
        for action in ("get", "erase"):
            assert_protocol_valid(action, inproc.run(action, host.encode()))
        assert_protocol_valid("list", inproc.run("list", b""))

    check()
    _report("config files", n)
    log = Path(inproc.env["ECRPY_LOG_DIR"]) / "ecrpy.log"
    text = log.read_text() if log.exists() else ""
    assert "Traceback" not in text
    assert "internal error" not in text


def test_config_file_that_is_not_utf8(inproc: InProcess, tmp_path: Path) -> None:
    from credhelper import config as config_mod
    from credhelper.errors import ConfigError

    path = tmp_path / "latin1.toml"
    path.write_bytes('[registries."caf\xe9.example"]\nprofile = "d\xe9v"\n'.encode("latin-1"))
    os.environ["ECRPY_CONFIG"] = str(path)
    out = inproc.run("get", HOSTS[0].encode())
    assert out.code == 1 and out.stdout == NOT_FOUND
    assert out.hint is not None and "not valid" in out.hint, out.hint
    with pytest.raises(ConfigError):
        config_mod.load()
