"""ecrpy's benchmark: whole processes, side by side with the interpreter floor and AWS's Go helper.

Run through ``scripts/bench`` (which installs hyperfine, the Go helper and the venv first).
Writes ``docs/benchmarks.md`` and prints the same table. Exit status: 0 when every measurement
ran (whatever the targets say), 1 on an infrastructure failure (a tool missing, moto or the
proxy not starting, hyperfine failing).

Method (also written into the report):

* Every measured process gets a private HOME/XDG/DOCKER_CONFIG/ECRPY_* tree in a temp dir, the
  AWS config/credentials files there, ``AWS_EC2_METADATA_DISABLED=true`` and nothing else of the
  outer environment. Python is ``.venv/bin/python``, the console script's shebang interpreter;
  bytecode is precompiled and ``PYTHONDONTWRITEBYTECODE`` is unset.
* hyperfine 1.15 has no ``--input``, so a command that reads stdin runs as
  ``sh -c 'exec CMD < FILE'``. hyperfine measures the cost of spawning its shell and subtracts it;
  ``exec`` makes the shell replace itself, so what remains is the redirect plus the command. All
  compared rows (floors included) are measured the same way, and the floors are also measured
  with ``--shell=none`` to show that the correction leaves no wrapper cost behind.
* AWS is moto (``tests.support.aws_server``, 12 h tokens) behind ``scripts/latency_proxy.py``.
  Both helpers reach it the same way: ``HTTPS_PROXY`` to the proxy's TLS mode (CONNECT for
  ``*.amazonaws.com``, a leaf certificate from a throwaway CA, ``AWS_CA_BUNDLE``/``SSL_CERT_FILE``),
  so both pay the same TLS handshake and the same added latency. Network calls are counted by
  moto (``/__ecrpy/stats``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = REPO / ".venv" / "bin"
PY = VENV_BIN / "python"
HELPER = VENV_BIN / "docker-credential-ecrpy"
CLI = VENV_BIN / "ecrpy"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

ACCOUNT = "123456789012"
REGION = "us-east-1"
HOST = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
SECRET = f"{ACCOUNT}-auth-token"
ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ecrpy-bench"
TOKEN_TTL = 12 * 3600  # what real ECR issues
LATENCY_MS = 50
HERD = 32
FLOOR_CODE = "import re, sys"

BARE_BOTOCORE = '''\
"""The least a Python helper must do on a cache miss: botocore client + GetAuthorizationToken."""
import base64, json, sys
import botocore.session
host = sys.stdin.read().strip()
account, _, _, region = host.split(".")[:4]
client = botocore.session.get_session().create_client("ecr", region_name=region)
data = client.get_authorization_token(registryIds=[account])["authorizationData"][0]
user, _, secret = base64.b64decode(data["authorizationToken"]).decode().partition(":")
print(json.dumps({"ServerURL": host, "Username": user, "Secret": secret}))
'''


class InfraError(Exception):
    """The benchmark could not run (not: ecrpy missed a target)."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# -- background servers --------------------------------------------------------------------------
class Background:
    """A child process that prints ``ready URL`` when it serves."""

    def __init__(self, name: str, argv: list[str], logfile: Path) -> None:
        self.name = name
        self.log = logfile
        self._out = open(logfile, "w")
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self._out,
            text=True,
            env={k: v for k, v in os.environ.items() if not k.endswith(("_PROXY", "_proxy"))},
        )
        self.url = ""
        self.extra: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            word, _, rest = line.strip().partition(" ")
            if word == "ready":
                self.url = rest
                return
            self.extra[word] = rest
        self.stop()
        raise InfraError(f"{name} did not start; see {logfile}:\n{logfile.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._out.close()


def _http(url: str, body: dict[str, object] | None = None) -> object:
    req = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(req, timeout=10) as resp:
        return json.loads(resp.read())


class Moto:
    def __init__(self, url: str) -> None:
        self.url = url

    def reset_counts(self) -> None:
        _http(f"{self.url}/__ecrpy/control", {"reset_counts": True})

    def counts(self) -> dict[str, int]:
        result = _http(f"{self.url}/__ecrpy/stats")
        assert isinstance(result, dict)
        return {str(k): int(v) for k, v in result.items()}


# -- environments --------------------------------------------------------------------------------
class World:
    """One isolated HOME with its AWS files, ecrpy folders and the Go helper's cache dir."""

    def __init__(self, root: Path, name: str, proxy: str | None, ca: str | None) -> None:
        self.root = root / name
        home = self.root / "home"
        self.home = home
        self.ecrpy_cache = self.root / "ecrpy-cache"
        self.go_cache = home / ".ecr"
        for d in (
            home / ".cache",
            home / ".config",
            home / ".local" / "state",
            home / ".docker",
            home / ".aws",
        ):
            d.mkdir(parents=True, exist_ok=True)
        (home / ".aws" / "config").write_text(
            f"[default]\nregion = {REGION}\n\n"
            f"[profile bench-source]\nregion = {REGION}\n\n"
            f"[profile bench-role]\nrole_arn = {ROLE_ARN}\nsource_profile = bench-source\n"
            f"region = {REGION}\n"
        )
        (home / ".aws" / "credentials").write_text(
            f"[bench-source]\naws_access_key_id = {ACCESS_KEY}\n"
            f"aws_secret_access_key = {SECRET_KEY}\n"
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
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ECR_CACHE_DIR": str(self.go_cache),
            "PATH": f"{VENV_BIN}{os.pathsep}{SYSTEM_PATH}",
            "LANG": "C.UTF-8",
        }
        if "TMPDIR" in os.environ:
            self.env["TMPDIR"] = os.environ["TMPDIR"]
        if proxy:
            self.env.update(
                {"HTTPS_PROXY": proxy, "https_proxy": proxy, "NO_PROXY": "", "no_proxy": ""}
            )
        if ca:
            self.env.update({"AWS_CA_BUNDLE": ca, "SSL_CERT_FILE": ca})

    def static_keys(self, key: str = ACCESS_KEY, secret: str = SECRET_KEY) -> World:
        self.env.update({"AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret})
        return self

    def role_profile(self) -> World:
        self.env["AWS_PROFILE"] = "bench-role"
        return self

    def clear_caches(self) -> None:
        shutil.rmtree(self.ecrpy_cache, ignore_errors=True)
        shutil.rmtree(self.go_cache, ignore_errors=True)


# -- commands ------------------------------------------------------------------------------------
class Cmd:
    """A measured command: its argv and whether it reads the server URL on stdin."""

    def __init__(
        self, label: str, argv: list[str], stdin: bool = True, expect: str | None = SECRET
    ) -> None:
        self.label = label
        self.argv = argv
        self.stdin = stdin
        self.expect = expect

    def shell(self, world: World) -> str:
        cmd = "exec " + shlex.join(self.argv)
        return f"{cmd} < {shlex.quote(str(world.input))}"


def floor_cmds() -> list[Cmd]:
    return [
        Cmd("python -c pass", [str(PY), "-c", "pass"], expect=None),
        Cmd(f'python -c "{FLOOR_CODE}"', [str(PY), "-c", FLOOR_CODE], expect=None),
    ]


def no_stdin(cmd: Cmd) -> Cmd:
    return Cmd(cmd.label, cmd.argv, stdin=False, expect=cmd.expect)


def ecrpy_get() -> Cmd:
    return Cmd("ecrpy get", [str(HELPER), "get"])


def go_get(go: str) -> Cmd:
    return Cmd("Go ecr-login get", [go, "get"])


class Row:
    def __init__(self, scenario: str, label: str, how: str) -> None:
        self.scenario = scenario
        self.label = label
        self.how = how
        self.times: list[float] = []  # seconds
        self.calls: dict[str, int] | None = None
        self.rss_kb: float | None = None
        self.cpu: float | None = None  # mean user + system seconds, from hyperfine
        self.error: str | None = None
        self.note = ""

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.times)


def check_output(cmd: Cmd, world: World, timeout: float = 60) -> str | None:
    """Run the command once; None when it answered correctly, else what went wrong."""
    stdin = open(world.input, "rb") if cmd.stdin else subprocess.DEVNULL
    try:
        proc = subprocess.run(
            cmd.argv, stdin=stdin, capture_output=True, env=world.env, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout}s"
    finally:
        if cmd.stdin:
            stdin.close()  # type: ignore[union-attr]
    if cmd.expect is None:
        return None if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr[-300:]!r}"
    if proc.returncode != 0 or cmd.expect.encode() not in proc.stdout:
        return (
            f"exit {proc.returncode}, stdout {proc.stdout[-200:]!r}, stderr {proc.stderr[-300:]!r}"
        )
    return None


def hyperfine(
    cmd: Cmd,
    world: World,
    runs: int,
    warmup: int,
    outdir: Path,
    prepare: str | None = None,
    no_shell: bool = False,
) -> tuple[list[float], float]:
    out = outdir / f"hf-{time.monotonic_ns()}.json"
    argv = [
        "hyperfine",
        "--style",
        "none",
        "--runs",
        str(runs),
        "--warmup",
        str(warmup),
        "--export-json",
        str(out),
    ]
    if prepare:
        argv += ["--prepare", prepare]
    if no_shell:
        if cmd.stdin:
            raise InfraError("--shell=none cannot feed stdin with hyperfine 1.15")
        argv += ["--shell=none", shlex.join(cmd.argv)]
    else:
        argv += [cmd.shell(world)]
    proc = subprocess.run(argv, env=world.env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise InfraError(f"hyperfine failed for {cmd.label}:\n{proc.stdout}\n{proc.stderr}")
    result = json.loads(out.read_text())["results"][0]
    return [float(t) for t in result["times"]], float(result["user"]) + float(result["system"])


def peak_rss(cmd: Cmd, world: World, runs: int, prepare: list[str] | None = None) -> float:
    """Median of /usr/bin/time's max RSS (KB) over ``runs`` runs."""
    values = []
    for _ in range(runs):
        if prepare:
            subprocess.run(prepare, check=False)
        with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
            stdin = open(world.input, "rb") if cmd.stdin else subprocess.DEVNULL
            try:
                subprocess.run(
                    ["/usr/bin/time", "-f", "%M", "-o", f.name, *cmd.argv],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    env=world.env,
                    check=False,
                    timeout=60,
                )
            finally:
                if cmd.stdin:
                    stdin.close()  # type: ignore[union-attr]
            text = f.read().strip().splitlines()
        if not text or not text[-1].strip().isdigit():
            raise InfraError(f"/usr/bin/time gave no RSS for {cmd.label}: {text!r}")
        values.append(float(text[-1]))
    return statistics.median(values)


# -- the benchmark -------------------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.rows: list[Row] = []
        self.targets: list[tuple[str, str, str]] = []  # (target, measured, PASS/FAIL/SKIP)
        self.herd: list[dict[str, object]] = []
        self.importtime: list[tuple[str, float, float]] = []
        self.go = shutil.which("docker-credential-ecr-login") or ""
        self.background: list[Background] = []

    # infrastructure
    def start(self) -> None:
        for tool in ("hyperfine", "docker-credential-ecr-login"):
            if not shutil.which(tool):
                raise InfraError(f"{tool} not installed (scripts/bench installs it)")
        if not os.access("/usr/bin/time", os.X_OK):
            raise InfraError("/usr/bin/time missing (Debian package time)")
        for exe in (PY, HELPER):
            if not exe.exists():
                raise InfraError(f"{exe} missing: is ecrpy installed in .venv?")
        log("precompiling bytecode (python -m compileall)")
        site = subprocess.run(
            [str(PY), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        )
        subprocess.run(
            [
                str(PY),
                "-m",
                "compileall",
                "-q",
                "-j0",
                str(REPO / "credhelper"),
                site.stdout.strip(),
            ],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        moto = Background(
            "moto",
            [
                str(PY),
                "-m",
                "tests.support.aws_server",
                "--port",
                "0",
                "--token-ttl",
                str(TOKEN_TTL),
            ],
            self.tmp / "moto.log",
        )
        self.background.append(moto)
        self.moto = Moto(moto.url)
        ca_dir = self.tmp / "ca"
        proxy = [
            str(PY),
            str(REPO / "scripts" / "latency_proxy.py"),
            "--upstream",
            moto.url,
            "--tls",
            "--ca-dir",
            str(ca_dir),
        ]
        p0 = Background("proxy-0ms", [*proxy, "--latency-ms", "0"], self.tmp / "proxy0.log")
        self.background.append(p0)
        p50 = Background(
            "proxy-50ms", [*proxy, "--latency-ms", str(LATENCY_MS)], self.tmp / "proxy50.log"
        )
        self.background.append(p50)
        self.proxy0, self.proxy50 = p0.url, p50.url
        self.ca = p0.extra["ca"]
        self._seed_moto()

    def _seed_moto(self) -> None:
        """A repository to check against, and an IAM user allowed to push (for `check`)."""
        import boto3

        kw = {
            "endpoint_url": self.moto.url,
            "region_name": REGION,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
        }
        boto3.client("ecr", **kw).create_repository(repositoryName="bench/app")
        iam = boto3.client("iam", **kw)
        iam.create_role(
            RoleName="ecrpy-bench",
            AssumeRolePolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Action": "sts:AssumeRole",
                            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                        }
                    ],
                }
            ),
        )
        iam.create_user(UserName="bench-pusher")
        iam.put_user_policy(
            UserName="bench-pusher",
            PolicyName="push",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}],
                }
            ),
        )
        key = iam.create_access_key(UserName="bench-pusher")["AccessKey"]
        self.pusher = (key["AccessKeyId"], key["SecretAccessKey"])

    def stop(self) -> None:
        for bg in reversed(self.background):
            bg.stop()

    # measuring
    def measure(self, scenario: str, cmd: Cmd, world: World, **opts: Any) -> Row:
        """One row (see ``group``)."""
        return self.group((scenario, cmd, world, opts))[0]

    def group(self, *specs: tuple[str, Cmd, World, dict[str, Any]]) -> list[Row]:
        """Rows that are compared with one another, measured interleaved: the runs are split
        into ``self.args.rounds`` hyperfine invocations per row, alternating A B, B A, ... so a
        burst of load on this shared machine hits every row alike. AWS calls are summed over
        every warm-up and measured run of a row."""
        rows: list[Row] = []
        live: list[tuple[Row, Cmd, World, dict[str, Any]]] = []
        for scenario, cmd, world, opts in specs:
            no_shell = bool(opts.get("no_shell"))
            how = "--shell=none" if no_shell else "sh -c 'exec … < url'"
            row = Row(scenario, opts.get("label") or cmd.label, how)
            rows.append(row)
            self.rows.append(row)
            if opts.get("prepare"):
                subprocess.run(["sh", "-c", opts["prepare"]], env=world.env, check=False)
            row.error = check_output(cmd, world)
            if row.error:
                log(f"{row.label}: ERROR {row.error}")
                continue
            if opts.get("count_calls"):
                row.calls = {}
            live.append((row, cmd, world, opts))
        rounds = max(1, self.args.rounds)
        cpu: dict[int, list[float]] = {id(r): [] for r, *_ in live}
        for i in range(rounds):
            order = live if i % 2 == 0 else list(reversed(live))
            for row, cmd, world, opts in order:
                runs = opts.get("runs") or self.args.runs
                chunk = max(2, -(-runs // rounds))
                warmup = int(opts.get("warmup", 3)) if i == 0 else 1
                if row.calls is not None:
                    self.moto.reset_counts()
                log(f"{row.scenario}: {row.label} (round {i + 1}/{rounds}, {chunk} runs)")
                times, mean_cpu = hyperfine(
                    cmd,
                    world,
                    chunk,
                    warmup,
                    self.tmp,
                    opts.get("prepare"),
                    bool(opts.get("no_shell")),
                )
                row.times += times
                cpu[id(row)] += [mean_cpu] * len(times)
                if row.calls is not None:
                    for op, n in self.moto.counts().items():
                        row.calls[op] = row.calls.get(op, 0) + n
        for row, cmd, world, opts in live:
            row.cpu = statistics.fmean(cpu[id(row)])
            if opts.get("rss"):
                row.rss_kb = peak_rss(cmd, world, self.args.rss_runs, opts.get("rss_prepare"))
        return rows

    def run(self) -> None:
        a = self.args
        floors = floor_cmds()
        ecrpy, go = ecrpy_get(), go_get(self.go)

        # 1 + 2 + 6a: floors, hot get with static keys, list; one interleaved group
        w = self.static_world = World(self.tmp, "static", self.proxy0, self.ca).static_keys()
        hot = {"runs": a.hot_runs, "rss": True}
        calls = {**hot, "count_calls": True}
        f1, f2 = (f"{c.label} (no shell)" for c in floors)
        lst = Cmd("ecrpy list", [str(HELPER), "list"], expect=HOST)
        rows = self.group(
            (
                "1 floor",
                no_stdin(floors[0]),
                w,
                {"runs": a.hot_runs, "no_shell": True, "label": f1},
            ),
            (
                "1 floor",
                no_stdin(floors[1]),
                w,
                {"runs": a.hot_runs, "no_shell": True, "label": f2},
            ),
            ("1 floor", floors[0], w, hot),
            ("1 floor", floors[1], w, hot),
            ("2 hot get, static keys", ecrpy, w, calls),
            ("2 hot get, static keys", go, w, calls),
            ("6 list / check", lst, w, calls),
        )
        self.floor, self.hot, self.go_hot, self.list = rows[3], rows[4], rows[5], rows[6]

        # 3: assumed role, 50 ms per AWS request
        w = World(self.tmp, "role", self.proxy50, self.ca).role_profile()
        s = f"3 hot get, assumed role, +{LATENCY_MS} ms"
        self.role_hot, self.role_go = self.group(
            (s, ecrpy, w, calls), (s, go, w, {"runs": a.runs, "rss": True, "count_calls": True})
        )

        # 4: cold get
        w = World(self.tmp, "cold", self.proxy0, self.ca).static_keys()
        s = "4 cold get (empty cache)"
        bare_path = self.tmp / "bare_botocore.py"
        bare_path.write_text(BARE_BOTOCORE)
        bare = Cmd("bare botocore + GetAuthorizationToken", [str(PY), str(bare_path)])
        clear = f"rm -rf {shlex.quote(str(w.ecrpy_cache))} {shlex.quote(str(w.go_cache))}"
        cold = {
            "prepare": clear,
            "count_calls": True,
            "rss": True,
            "rss_prepare": ["rm", "-rf", str(w.ecrpy_cache), str(w.go_cache)],
        }
        self.cold, self.bare, self.go_cold = self.group(
            (s, ecrpy, w, cold), (s, bare, w, cold), (s, go, w, cold)
        )

        # 5: herd
        w = World(self.tmp, "herd", self.proxy50, self.ca).static_keys()
        self.herd = [self.run_herd("ecrpy", ecrpy, w), self.run_herd("Go ecr-login", go, w)]

        # 6b: check push
        w = World(self.tmp, "check", self.proxy50, self.ca).static_keys(*self.pusher)
        s = "6 list / check"
        self.check: Row | None = None
        if self.check_available(w):
            check = Cmd(
                f"ecrpy check push {HOST}/bench/app:latest",
                [str(CLI), "check", "push", f"{HOST}/bench/app:latest"],
                stdin=False,
                expect=None,
            )
            opts = {"runs": a.slow_runs, "warmup": 1, "rss": True, "count_calls": True}
            self.check = self.measure(s, check, w, **opts)
        else:
            log("ecrpy check: SKIP (the command does not exist yet)")

        self.importtime = self.import_breakdown(self.static_world)

    def check_available(self, world: World) -> bool:
        proc = subprocess.run(
            [str(CLI), "check", "--help"],
            capture_output=True,
            env=world.env,
            check=False,
            timeout=60,
        )
        return proc.returncode == 0

    def run_herd(self, name: str, cmd: Cmd, world: World) -> dict[str, object]:
        walls, gats, totals, errors = [], [], [], 0
        for _ in range(self.args.herd_rounds):
            world.clear_caches()
            self.moto.reset_counts()
            files = [open(world.input, "rb") for _ in range(HERD)]
            t0 = time.perf_counter()
            procs = [
                subprocess.Popen(
                    cmd.argv,
                    stdin=f,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=world.env,
                )
                for f in files
            ]
            outs = [p.communicate(timeout=120)[0] for p in procs]
            walls.append(time.perf_counter() - t0)
            for f in files:
                f.close()
            errors += sum(
                1
                for p, o in zip(procs, outs, strict=True)
                if p.returncode or SECRET.encode() not in o
            )
            counts = self.moto.counts()
            gats.append(counts.get("GetAuthorizationToken", 0))
            totals.append(sum(counts.values()))
        log(f"5 herd: {name}: walls {walls} GetAuthorizationToken {gats}")
        return {"name": name, "walls": walls, "gat": gats, "total": totals, "errors": errors}

    def import_breakdown(self, world: World) -> list[tuple[str, float, float]]:
        """Modules the hot get imports beyond ``import re, sys``: (name, self ms, cumulative ms),
        medians of a few ``-X importtime`` runs (absolute values are inflated by the tracing)."""

        def parse(argv: list[str]) -> dict[str, tuple[float, float]]:
            with open(world.input, "rb") as f:
                proc = subprocess.run(
                    argv, stdin=f, capture_output=True, text=True, env=world.env, check=False
                )
            result = {}
            for line in proc.stderr.splitlines():
                m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
                if m:
                    result[m.group(4)] = (int(m.group(1)) / 1000, int(m.group(2)) / 1000)
            return result

        floor = set(parse([str(PY), "-X", "importtime", "-c", FLOOR_CODE]))
        runs = [parse([str(PY), "-X", "importtime", str(HELPER), "get"]) for _ in range(7)]
        names = {n for r in runs for n in r} - floor
        out = []
        for n in names:
            selfs = [r[n][0] for r in runs if n in r]
            cums = [r[n][1] for r in runs if n in r]
            out.append((n, statistics.median(selfs), statistics.median(cums)))
        return sorted(out, key=lambda t: -t[1])

    # results
    def evaluate(self) -> None:
        t = self.targets

        def verdict(ok: bool) -> str:
            return "PASS" if ok else "FAIL"

        def cpu(a: Row, b: Row) -> str:
            return f"; CPU {(a.cpu or 0) / (b.cpu or 1):.2f} x"

        def net(row: Row) -> int:
            return sum((row.calls or {}).values())

        if self.hot.ok and self.floor.ok:
            r = self.hot.median / self.floor.median
            t.append(
                (
                    "hot get ≤ 1.3 x floor (`import re, sys`)",
                    f"{r:.2f} x ({ms(self.hot.median)} vs {ms(self.floor.median)})"
                    + cpu(self.hot, self.floor),
                    verdict(r <= 1.3),
                )
            )
            r = (self.hot.rss_kb or 0) / (self.floor.rss_kb or 1)
            t.append(
                (
                    "hot get peak RSS ≤ 1.5 x floor's",
                    f"{r:.2f} x ({mb(self.hot.rss_kb)} vs {mb(self.floor.rss_kb)})",
                    verdict(r <= 1.5),
                )
            )
        else:
            t.append(("hot get ≤ 1.3 x floor", f"ERROR: {self.hot.error}", "FAIL"))
        if self.role_hot.ok and self.role_go.ok:
            calls = net(self.role_hot)
            t.append(
                (
                    f"hot get, assumed role, +{LATENCY_MS} ms: zero network calls",
                    f"{calls} calls over all its runs (warm-ups included)",
                    verdict(calls == 0),
                )
            )
            r = self.role_hot.median / self.role_go.median
            t.append(
                (
                    f"hot get, assumed role, +{LATENCY_MS} ms ≤ 0.2 x Go",
                    f"{r:.3f} x ({ms(self.role_hot.median)} vs {ms(self.role_go.median)})"
                    + cpu(self.role_hot, self.role_go),
                    verdict(r <= 0.2),
                )
            )
        else:
            err = self.role_hot.error or self.role_go.error
            t.append(("hot get, assumed role", f"ERROR: {err}", "FAIL"))
        if self.cold.ok and self.bare.ok:
            r = self.cold.median / self.bare.median
            t.append(
                (
                    "cold get ≤ 1.1 x bare botocore client + call",
                    f"{r:.2f} x ({ms(self.cold.median)} vs {ms(self.bare.median)})"
                    + cpu(self.cold, self.bare),
                    verdict(r <= 1.1),
                )
            )
        else:
            t.append(("cold get", f"ERROR: {self.cold.error or self.bare.error}", "FAIL"))
        h = self.herd[0]
        gats = h["gat"]
        assert isinstance(gats, list)
        t.append(
            (
                f"herd of {HERD}: exactly 1 GetAuthorizationToken",
                f"{gats} per round, {h['errors']} failed gets",
                verdict(all(g == 1 for g in gats) and not h["errors"]),
            )
        )
        if self.check is None:
            t.append(
                (f"`ecrpy check push` with +{LATENCY_MS} ms ≤ 1 s", "command not available", "SKIP")
            )
        elif self.check.ok:
            t.append(
                (
                    f"`ecrpy check push` with +{LATENCY_MS} ms ≤ 1 s",
                    ms(self.check.median),
                    verdict(self.check.median <= 1.0),
                )
            )
        else:
            t.append(("`ecrpy check push`", f"ERROR: {self.check.error}", "FAIL"))
        if self.list.ok and self.hot.ok:
            calls = net(self.list)
            t.append(("`list` makes no network call", f"{calls} calls", verdict(calls == 0)))
            r = self.list.median / self.hot.median
            t.append(
                (
                    "`list` ≤ 1.1 x hot get",
                    f"{r:.2f} x ({ms(self.list.median)} vs {ms(self.hot.median)})"
                    + cpu(self.list, self.hot),
                    verdict(r <= 1.1),
                )
            )
        else:
            t.append(("`list`", f"ERROR: {self.list.error}", "FAIL"))

    def report(self) -> str:
        lines = [
            "# Benchmarks",
            "",
            "Generated by `scripts/bench` (do not edit by hand; re-run it). "
            "Times are whole processes in milliseconds.",
            "",
        ]
        lines += ["## Machine", ""] + [f"- {k}: {v}" for k, v in machine_facts(self.go)] + [""]
        lines += [
            "## Results",
            "",
            "| scenario | command | median | min | max | runs | CPU user+sys (mean) | AWS calls "
            "| peak RSS |",
            "|---|---|---:|---:|---:|---:|---:|---|---:|",
        ]
        for r in self.rows:
            if r.error:
                lines.append(f"| {r.scenario} | {r.label} | ERROR | | | | | | |")
                continue
            calls = (
                ""
                if r.calls is None
                else (", ".join(f"{k} {v}" for k, v in sorted(r.calls.items())) or "0")
            )
            lines.append(
                f"| {r.scenario} | {r.label} "
                f"| {ms(r.median)} | {ms(min(r.times))} | {ms(max(r.times))} | {len(r.times)} "
                f"| {ms(r.cpu)} | {calls} | {mb(r.rss_kb)} |"
            )
        lines += [
            "",
            f"## Herd: {HERD} concurrent cold gets (+{LATENCY_MS} ms per AWS request)",
            "",
            "| helper | wall median | min | max | rounds | GetAuthorizationToken per round "
            "| all AWS calls per round | failed gets |",
            "|---|---:|---:|---:|---:|---|---|---:|",
        ]
        for h in self.herd:
            walls = h["walls"]
            assert isinstance(walls, list)
            lines.append(
                f"| {h['name']} | {ms(statistics.median(walls))} | {ms(min(walls))} "
                f"| {ms(max(walls))} | {len(walls)} | {h['gat']} | {h['total']} "
                f"| {h['errors']} |"
            )
        lines += ["", "## Targets", "", "| target | measured | result |", "|---|---|---|"]
        lines += [f"| {a} | {b} | **{c}** |" for a, b, c in self.targets]
        if self.importtime:
            lines += [
                "",
                "## Hot get: modules imported beyond `import re, sys`",
                "",
                "`python -X importtime docker-credential-ecrpy get`, median of 7 runs "
                "(tracing inflates the absolute numbers).",
                "",
                "| module | self ms | cumulative ms |",
                "|---|---:|---:|",
            ]
            lines += [f"| {n} | {s:.2f} | {c:.2f} |" for n, s, c in self.importtime[:25]]
            total = sum(s for _, s, _ in self.importtime)
            lines += ["", f"{len(self.importtime)} modules, {total:.1f} ms self time in all."]
        lines += ["", "## Method", "", METHOD.strip(), ""]
        return "\n".join(lines)


METHOD = f"""
- **Processes** are measured whole by hyperfine (1.15). It has no `--input`, so every command
  that reads the server URL runs as `sh -c 'exec CMD < FILE'`; hyperfine measures the spawn of
  its shell and subtracts it, and `exec` leaves only the redirect and the command itself. Every
  compared row, the floors included, is measured that way; the floors are also measured with
  `--shell=none` (no stdin needed) to show the correction leaves no wrapper cost. Medians, with
  min and max, of the run counts shown, after 3 warm-up runs (1 for `check`).
- **Interpreter**: `.venv/bin/python`, the console script's shebang; the floor is
  `python -c "{FLOOR_CODE}"` (what any Python helper pays before its own code). Bytecode is
  precompiled with `python -m compileall`, `PYTHONDONTWRITEBYTECODE` is unset; ecrpy is the
  venv's compat editable install.
- **Environment**: each scenario has its own temp HOME with XDG/DOCKER_CONFIG/ECRPY_* dirs and
  AWS config/credentials files, `AWS_EC2_METADATA_DISABLED=true`, and nothing else of the outer
  environment. Static keys: `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`. Assumed role:
  `AWS_PROFILE=bench-role` (`role_arn` + `source_profile`), no keys in the environment.
- **AWS**: moto (`tests.support.aws_server`, tokens valid {TOKEN_TTL // 3600} h as real ECR issues
  them) behind `scripts/latency_proxy.py`. AWS's Go helper ignores `AWS_ENDPOINT_URL`, so both
  helpers reach moto the same way: `HTTPS_PROXY` to the proxy, which answers CONNECT for
  `*.amazonaws.com`, terminates TLS with a certificate from a throwaway CA
  (`AWS_CA_BUNDLE`/`SSL_CERT_FILE`), waits 0 or {LATENCY_MS} ms per request and forwards plain
  HTTP to moto on 127.0.0.1. AWS calls are counted by moto (`/__ecrpy/stats`) over all warm-up
  and measured runs of a row.
- **Cold get**: hyperfine `--prepare` removes ecrpy's cache dir and the Go helper's
  (`AWS_ECR_CACHE_DIR`) before every run. The baseline is a {len(BARE_BOTOCORE.splitlines())}-line
  script in the same interpreter: a botocore session, an `ecr` client and one
  GetAuthorizationToken.
- **Herd**: {HERD} processes started at once on an empty cache, {LATENCY_MS} ms per AWS request;
  wall time from the first spawn to the last exit, and the calls moto saw, per round.
- **Peak RSS**: `/usr/bin/time -f %M`, median of several runs.
- **Shared machine**: other work may run on the same cores (see the load average above), so
  compared rows are measured interleaved (each row's runs split into rounds, order alternating)
  and the table also gives the mean CPU time (user+sys, from hyperfine), which contention
  disturbs far less than wall time. Verdicts use wall-time medians; the CPU ratio is shown
  beside them.
"""


def ms(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds * 1000:.1f} ms"


def mb(kb: float | None) -> str:
    return "" if kb is None else f"{kb / 1024:.1f} MB"


def machine_facts(go: str) -> list[tuple[str, str]]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def out(argv: list[str]) -> str:
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
        except OSError:
            return "?"
        return (p.stdout + p.stderr).strip()

    go_v = out([go, "-v"]) if go else "not installed"
    go_version = re.search(r"Version:\s*(\S+)", go_v)
    go_commit = re.search(r"commit:\s*(\S+)", go_v)
    deb = out(["dpkg-query", "-W", "-f=${Version}", "amazon-ecr-credential-helper"])
    return [
        ("date", datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("CPU", cpu),
        ("cores", str(os.cpu_count())),
        ("OS", f"{platform.system()} {platform.release()}"),
        (
            "Python",
            out([str(PY), "-c", "import sys; print(sys.version.split()[0])"])
            + f" ({PY} -> {os.path.realpath(PY)})",
        ),
        ("ecrpy", out([str(HELPER), "version"])),
        (
            "Go helper",
            f"docker-credential-ecr-login {go_version.group(1) if go_version else '?'}"
            f" (commit {go_commit.group(1) if go_commit else '?'}, Debian {deb})",
        ),
        ("hyperfine", out(["hyperfine", "--version"])),
        ("load average at the end (1/5/15 min)", " ".join(f"{x:.2f}" for x in os.getloadavg())),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="ecrpy benchmark (see docs/benchmarks.md)")
    parser.add_argument("--runs", type=int, default=30, help="runs per slow row (>= 30)")
    parser.add_argument("--hot-runs", type=int, default=60, help="runs per fast row")
    parser.add_argument("--slow-runs", type=int, default=30, help="runs for `check`")
    parser.add_argument("--rss-runs", type=int, default=7)
    parser.add_argument(
        "--rounds", type=int, default=3, help="interleaved hyperfine rounds per compared group"
    )
    parser.add_argument("--herd-rounds", type=int, default=3)
    parser.add_argument(
        "--output",
        default=str(REPO / "docs" / "benchmarks.md"),
        help="where to write the report ('-': print only)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    tmp = Path(tempfile.mkdtemp(prefix="ecrpy-bench-"))
    bench = Bench(args, tmp)
    try:
        bench.start()
        bench.run()
        bench.evaluate()
        text = bench.report()
    except InfraError as exc:
        print(f"bench: infrastructure failure: {exc}", file=sys.stderr)
        return 1
    finally:
        bench.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")
    print(text)
    if args.output != "-":
        Path(args.output).write_text(text)
        log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
