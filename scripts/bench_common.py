"""What every ``scripts/bench_*.py`` shares: the AWS world, isolated environments, the paired
runner and the report pieces. The servers are tests/support's (moto behind
``tests.support.aws_server``, docker-registry, a private dockerd), not a second harness.

The runner measures whole processes itself: ``Popen`` then ``os.wait4``, which gives each run's
wall time, CPU time (user+sys) and peak RSS (``ru_maxrss``) of exactly that child. Compared
commands run *paired and interleaved*: run i of every command of a group happens back to back,
in an order that alternates, so load on this shared machine hits each alike.
"""

from __future__ import annotations

import datetime
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.support import (  # noqa: E402
    MOTO_ACCOUNT,
    MOTO_ECR_PASSWORD,
    MOTO_REGION,
    SYSTEM_PATH,
    TEST_ACCESS_KEY_ID,
    TEST_SECRET_ACCESS_KEY,
    ecr_host,
)
from tests.support.net import ContainerCredentialsServer  # noqa: E402,F401 - for bench_cold

VENV_BIN = REPO / ".venv" / "bin"
PY = VENV_BIN / "python"
HELPER = VENV_BIN / "docker-credential-ecrpy"
CLI = VENV_BIN / "ecrpy"
GO_NAME = "docker-credential-ecr-login"
HOST = ecr_host()
SECRET = MOTO_ECR_PASSWORD
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT}:role/ecrpy-bench"
LATENCY_MS = 50
RTT = "rtt"  # Aws.proxy(RTT): LATENCY_MS per round trip, a new connection's set-up included
FLOOR_CODE = "import re, sys"
TIME = "/usr/bin/time"  # GNU time (Debian package time)


class InfraError(Exception):
    """The benchmark could not run (not: ecrpy missed a target)."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def go_helper() -> str:
    go = shutil.which(GO_NAME)
    if go is None:
        raise InfraError(f"{GO_NAME} not installed (scripts/bench installs it)")
    return go


def load_script(name: str) -> ModuleType:
    """A module from scripts/ (they are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


# -- AWS: moto behind the TLS latency proxy --------------------------------------------------------
class Aws:
    """moto (in-process, 12 h tokens) and two TLS proxies in front of it (0 and +50 ms)."""

    def __init__(self, tmp: Path) -> None:
        import logging

        from tests.support.aws_server import AwsServer

        logging.getLogger("werkzeug").setLevel(logging.CRITICAL)
        proxy_mod = load_script("latency_proxy")
        self.server = AwsServer()
        self.url = self.server.url
        ca_dir = tmp / "ca"
        self.proxies: dict[int | str, Any] = {
            ms: proxy_mod.serve(self.url, ms, tls=True, ca_dir=str(ca_dir))
            for ms in (0, LATENCY_MS)
        }
        # LATENCY_MS per round trip, new connections too (TCP + TLS: 2 more): a far region
        self.proxies[RTT] = proxy_mod.serve(self.url, LATENCY_MS, tls=True, ca_dir=str(ca_dir),
                                            connection_rtts=True)  # fmt: skip
        self.ca = str(ca_dir / "ca.pem")
        self._pusher: tuple[str, str] | None = None
        self._seed()

    def pusher(self) -> tuple[str, str]:
        """Keys of an IAM user allowed ecr:* (created once): a caller whose policies the
        pre-flight reads (moto's default caller, arn:aws:sts::ACCOUNT:user/moto, is no IAM
        user, so a check of it makes no IAM call)."""
        if self._pusher is None:
            import json

            import boto3

            iam = boto3.client("iam", endpoint_url=self.url, region_name=MOTO_REGION,
                               aws_access_key_id=TEST_ACCESS_KEY_ID,
                               aws_secret_access_key=TEST_SECRET_ACCESS_KEY)  # fmt: skip
            iam.create_user(UserName="bench-pusher")
            allow = {"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}
            policy = {"Version": "2012-10-17", "Statement": [allow]}
            iam.put_user_policy(UserName="bench-pusher", PolicyName="push",
                                PolicyDocument=json.dumps(policy))  # fmt: skip
            key = iam.create_access_key(UserName="bench-pusher")["AccessKey"]
            self._pusher = (key["AccessKeyId"], key["SecretAccessKey"])
        return self._pusher

    def proxy(self, latency_ms: int | str = 0) -> str:
        """The proxy adding ``latency_ms`` per request (``RTT``: per round trip, see there)."""
        return str(self.proxies[latency_ms].url)

    def _seed(self) -> None:
        import json

        import boto3

        kw = {
            "endpoint_url": self.url,
            "region_name": MOTO_REGION,
            "aws_access_key_id": TEST_ACCESS_KEY_ID,
            "aws_secret_access_key": TEST_SECRET_ACCESS_KEY,
        }
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole*",
                 "Principal": {"AWS": f"arn:aws:iam::{MOTO_ACCOUNT}:root"}}
            ],
        }  # fmt: skip
        iam = boto3.client("iam", **kw)
        iam.create_role(RoleName="ecrpy-bench", AssumeRolePolicyDocument=json.dumps(trust))
        # what a CI role that pushes and pulls has: the pre-flight reads it (GetRole, ...)
        ecr = {"Version": "2012-10-17",
               "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}  # fmt: skip
        iam.put_role_policy(RoleName="ecrpy-bench", PolicyName="ecr",
                            PolicyDocument=json.dumps(ecr))  # fmt: skip
        self.ecr = boto3.client("ecr", **kw)
        self.ecr.create_repository(repositoryName="bench/app")

    def stop(self) -> None:
        for p in self.proxies.values():
            p.shutdown()
            p.server_close()
        self.server.stop()


# -- isolated environments -------------------------------------------------------------------------
class World:
    """One private HOME with AWS files, ecrpy folders and the Go helper's cache dir."""

    def __init__(self, root: Path, name: str, proxy: str | None = None, ca: str | None = None):
        self.root = root / name
        home = self.home = self.root / "home"
        self.ecrpy_cache = self.root / "ecrpy-cache"
        self.go_cache = home / ".ecr"
        for d in (".cache", ".config", ".local/state", ".docker", ".aws"):
            (home / d).mkdir(parents=True, exist_ok=True)
        (home / ".aws" / "config").write_text(
            f"[default]\nregion = {MOTO_REGION}\n\n"
            f"[profile bench-source]\nregion = {MOTO_REGION}\n\n"
            f"[profile bench-role]\nrole_arn = {ROLE_ARN}\nsource_profile = bench-source\n"
            f"region = {MOTO_REGION}\n"
        )
        (home / ".aws" / "credentials").write_text(
            f"[bench-source]\naws_access_key_id = {TEST_ACCESS_KEY_ID}\n"
            f"aws_secret_access_key = {TEST_SECRET_ACCESS_KEY}\n"
        )
        self.input = self.root / "server-url"
        self.input.write_text(HOST)  # no newline, as docker sends it
        self.env: dict[str, str] = {
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "DOCKER_CONFIG": str(home / ".docker"),
            "ECRPY_CACHE_DIR": str(self.ecrpy_cache),
            "ECRPY_CONFIG": str(self.root / "ecrpy-config" / "config.toml"),
            "ECRPY_LOG_DIR": str(self.root / "ecrpy-logs"),
            "AWS_CONFIG_FILE": str(home / ".aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / ".aws" / "credentials"),
            "AWS_DEFAULT_REGION": MOTO_REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ECR_CACHE_DIR": str(self.go_cache),
            "PATH": f"{VENV_BIN}{os.pathsep}{SYSTEM_PATH}",
            "LANG": "C.UTF-8",
        }
        if "TMPDIR" in os.environ:
            self.env["TMPDIR"] = os.environ["TMPDIR"]
        if proxy:
            self.env.update({"HTTPS_PROXY": proxy, "https_proxy": proxy})
        if ca:
            self.env.update({"AWS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca})

    def env_keys(self) -> World:
        self.env["AWS_ACCESS_KEY_ID"] = TEST_ACCESS_KEY_ID
        self.env["AWS_SECRET_ACCESS_KEY"] = TEST_SECRET_ACCESS_KEY
        return self

    def profile(self, name: str) -> World:
        self.env["AWS_PROFILE"] = name
        return self

    def web_identity(self) -> World:
        token = self.root / "web-identity-token"
        token.write_text("eyJhbGciOiJub25lIn0.eyJzdWIiOiJiZW5jaCJ9.")  # moto does not verify it
        self.env.update(
            {
                "AWS_ROLE_ARN": ROLE_ARN,
                "AWS_WEB_IDENTITY_TOKEN_FILE": str(token),
                "AWS_ROLE_SESSION_NAME": "bench",
            }
        )
        return self

    def container(self, url: str, token: str) -> World:
        """An ECS task role / container credentials endpoint on 127.0.0.1 with an authorization
        token. ``AWS_CONTAINER_AUTHORIZATION_TOKEN``, not EKS Pod Identity's ``..._TOKEN_FILE``:
        the Go helper this machine has (Debian's 0.6.0) does not read the file."""
        self.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = url
        self.env["AWS_CONTAINER_AUTHORIZATION_TOKEN"] = token
        return self

    def credential_process(self) -> World:
        """A profile whose ``credential_process`` is a /bin/sh script printing the keys (the
        process itself costs both helpers the same ~1 ms)."""
        script = self.root / "creds.sh"
        doc = (f'{{"Version": 1, "AccessKeyId": "{TEST_ACCESS_KEY_ID}", '
               f'"SecretAccessKey": "{TEST_SECRET_ACCESS_KEY}"}}')  # fmt: skip
        script.write_text(f"#!/bin/sh\necho '{doc}'\n")
        script.chmod(0o755)
        with open(self.home / ".aws" / "config", "a") as f:
            f.write(f"\n[profile bench-process]\ncredential_process = {script}\n")
        self.env["AWS_PROFILE"] = "bench-process"
        return self

    def ca_bundle(self, bundle: Path) -> World:
        """Trust ``bundle`` (both helpers: ``AWS_CA_BUNDLE`` / ``SSL_CERT_FILE``)."""
        self.env.update({"AWS_CA_BUNDLE": str(bundle), "SSL_CERT_FILE": str(bundle)})
        return self

    def ca_directory(self, directory: Path) -> World:
        """Trust a hashed CA directory (``SSL_CERT_DIR``, as /etc/ssl/certs), no bundle file:
        what a machine without AWS_CA_BUNDLE has."""
        for var in ("AWS_CA_BUNDLE", "SSL_CERT_FILE"):
            self.env.pop(var, None)
        self.env["SSL_CERT_DIR"] = str(directory)
        return self

    def clear_caches(self) -> None:
        """Empty every cache a cold CI job starts without: ecrpy's tokens, the Go helper's, and
        the AWS CLI's role-session cache (which both ecrpy and botocore read: a role assumed in
        an earlier run must not make a later "cold" run cheaper; the Go helper keeps none)."""
        shutil.rmtree(self.ecrpy_cache, ignore_errors=True)
        shutil.rmtree(self.go_cache, ignore_errors=True)
        shutil.rmtree(self.home / ".aws" / "cli" / "cache", ignore_errors=True)


# -- commands and the paired runner ----------------------------------------------------------------
@dataclass
class Cmd:
    """A measured command. ``stdin``: feed the world's server URL; ``expect``: bytes its
    stdout must contain (every run is checked); ``prepare``: run before each run, untimed."""

    label: str
    argv: list[str]
    world: World
    stdin: bool = True
    expect: str | None = SECRET
    prepare: Callable[[], None] | None = None


@dataclass
class Row:
    section: str
    label: str
    walls: list[float] = field(default_factory=list)  # seconds
    cpus: list[float] = field(default_factory=list)  # seconds, user + sys
    rss_kb: list[int] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    preempted: list[int] = field(default_factory=list)  # involuntary context switches

    @property
    def wait(self) -> float:
        """Median of (wall - CPU) per run: time neither on a CPU nor counted as CPU. On an idle
        machine that is I/O (AWS, the engine); under load it is mostly run-queue time, which
        shows as many involuntary context switches (``preempted``)."""
        return statistics.median(w - c for w, c in zip(self.walls, self.cpus, strict=True))

    @property
    def median(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def rss_mib(self) -> float:
        return statistics.median(self.rss_kb) / 1024


def run_once(cmd: Cmd, out: Path) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of one run; InfraError when the answer is wrong."""
    return run_sample(cmd, out)[:3]


def run_sample(cmd: Cmd, out: Path) -> tuple[float, float, int, int]:
    """(wall s, CPU s, peak RSS KiB, involuntary context switches) of one run; InfraError when
    the answer is wrong.

    Peak RSS comes from ``/usr/bin/time``: Linux carries a process's RSS high-water mark across
    exec, so a child forked (or vforked) straight from this ~100 MiB process would report this
    process's size; time's own child starts from a ~2 MiB one. Wall and CPU come from
    ``os.wait4`` on time, whose own cost (~1 ms, the same for every command) is included."""
    if cmd.prepare:
        cmd.prepare()
    rss_file = out.with_suffix(".rss")
    argv = [TIME, "-f", "%M", "-o", str(rss_file), *cmd.argv]
    with open(cmd.world.input if cmd.stdin else os.devnull, "rb") as stdin, open(
        out, "wb"
    ) as stdout:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            argv, stdin=stdin, stdout=stdout, stderr=subprocess.STDOUT, env=cmd.world.env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    text = out.read_bytes()
    if proc.returncode != 0 or (cmd.expect is not None and cmd.expect.encode() not in text):
        raise InfraError(f"{cmd.label}: exit {proc.returncode}, output {text[-400:]!r}")
    rss = int(rss_file.read_text().split()[-1])
    return wall, usage.ru_utime + usage.ru_stime, rss, usage.ru_nivcsw


def paired(
    section: str,
    cmds: Sequence[Cmd],
    runs: int,
    warmup: int = 2,
    aws: Aws | None = None,
    tmp: Path | None = None,
) -> list[Row]:
    """``runs`` runs of every command, interleaved (A B C, C B A, ...), after ``warmup`` each.
    With ``aws``, the AWS calls each command made are counted (warm-ups included)."""
    out = (tmp or Path(tempfile.gettempdir())) / f"bench-out-{os.getpid()}"
    rows = [Row(section, c.label) for c in cmds]
    for i in range(warmup + runs):
        order = list(zip(cmds, rows, strict=True))
        for cmd, row in order if i % 2 == 0 else reversed(order):
            if aws is not None:
                aws.server.reset_counts()
            wall, cpu, rss, preempted = run_sample(cmd, out)
            if aws is not None:
                for op, n in aws.server.counts().items():
                    row.calls[op] = row.calls.get(op, 0) + n
            if i >= warmup:
                row.walls.append(wall)
                row.cpus.append(cpu)
                row.rss_kb.append(rss)
                row.preempted.append(preempted)
    for row in rows:
        log(f"{section}: {row.label}: median {ms(row.median)} over {len(row.walls)} runs")
    return rows


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Target:
    row: str  # the issue-13 table row
    target: str
    measured: str
    ok: bool


@dataclass
class Section:
    title: str
    rows: list[Row]
    targets: list[Target]
    notes: list[str] = field(default_factory=list)


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f} ms"


def ratio_target(row: str, limit: float, a: Row, b: Row, b_name: str) -> Target:
    r = a.median / b.median
    return Target(
        row,
        f"≤ {limit:g} x {b_name}",
        f"{r:.2f} x ({ms(a.median)} vs {ms(b.median)}; CPU {a.cpu / b.cpu:.2f} x)",
        r <= limit,
    )


def rows_table(rows: Sequence[Row]) -> list[str]:
    lines = [
        "| measurement | command | median | min | max | runs | CPU median | wait | preempted "
        "| peak RSS | AWS calls |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in rows:
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r.calls.items())) or "0"
        lines.append(
            f"| {r.section} | {r.label} | {ms(r.median)} | {ms(min(r.walls))} "
            f"| {ms(max(r.walls))} | {len(r.walls)} | {ms(r.cpu)} | {ms(r.wait)} "
            f"| {statistics.median(r.preempted):g} | {r.rss_mib:.1f} MiB "
            f"| {calls} |"
        )
    return lines


def machine_facts() -> list[tuple[str, str]]:
    def out(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            return "?"
        return (p.stdout + p.stderr).strip()

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    go = shutil.which(GO_NAME)
    go_v = out([go, "-v"]).replace("\n", " ") if go else "not installed"
    deb = out(["dpkg-query", "-W", "-f=${Version}", "amazon-ecr-credential-helper"])
    return [
        ("date", datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", f"{cpu}, {os.cpu_count()} cores"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", out([str(PY), "-c", "import sys; print(sys.version.split()[0])"])),
        ("ecrpy", out([str(HELPER), "version"])),
        ("Go helper", f"{' '.join(go_v.split())} (Debian {deb})"),
        ("docker", out(["docker", "--version"])),
    ]


def loadavg() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def temp_dir(keep: bool = False) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="ecrpy-bench-"))
    try:
        yield tmp
    finally:
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def precompile() -> None:
    """Bytecode written once, as a normal install has it."""
    subprocess.run(
        [str(PY), "-m", "compileall", "-q", "-j0", str(REPO / "credhelper")],
        check=False,
        stdout=subprocess.DEVNULL,
    )


Args = Any  # argparse.Namespace with the options of bench_all.py
