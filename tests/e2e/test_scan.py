"""``ecrpy push --scan [--fail-on SEVERITY] [--scan-timeout S]`` as real processes: the private
dockerd pushes to docker-registry (the ECR registry's stand-in), moto is ECR's control plane and
serves the scan through its configurable findings (moto-api ``static/ecr/scan-finding-results``).

The registry and moto do not know of each other (see test_transfer.py), so every case first
pushes the image once and copies its manifest into moto, as real ECR would hold it after the
push; the ``--scan`` push then pushes the same digest again (its layers are already there) and
waits for that digest's scan. moto completes every scan at once: the waiting, progress and
timeout cases hold the scan ``IN_PROGRESS`` through the aws_server middleware
(``hold_scans``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_transfer import (
    POWER_USER,
    World,
    as_user,
    ctrl_c_when,
    ecrpy,
    one_line_error,
    validate,
)
from tests.support import MOTO_ACCOUNT, MOTO_REGION, write_config
from tests.support.aws_server import AwsServer
from tests.support.dockerd import Dockerd
from tests.support.registry_server import RegistryServer

pytestmark = pytest.mark.e2e

SEVERITIES = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL", "UNDEFINED")
SCAN_KEYS = {"status", "description", "scan_type", "started_by_ecrpy", "severity_counts",
             "total", "fail_on", "at_or_above_fail_on", "problem", "completed_at",
             "waited_seconds"}
SCAN_READ = ["ecr:DescribeImageScanFindings", "ecr:GetRegistryScanningConfiguration"]


@pytest.fixture
def world(aws: AwsServer, registry_server: RegistryServer, dockerd: Dockerd) -> World:
    return World(aws, registry_server, dockerd)


@pytest.fixture
def env(helper_env: dict[str, str], registry_server: RegistryServer,
        dockerd: Dockerd) -> dict[str, str]:
    """As in test_transfer.py: the private engine, the registry as an alias of moto's account."""
    write_config(helper_env, f'[registries."{registry_server.host}"]\n'
                             f'account_id = "{MOTO_ACCOUNT}"\nregion = "{MOTO_REGION}"\n')
    return {**helper_env, **dockerd.env()}


@pytest.fixture(autouse=True)
def _scans_released(aws: AwsServer, world: World) -> Iterator[None]:
    """No hold and basic scanning after each case (moto's registry settings outlive a test)."""
    yield
    aws.release_scans()
    aws.disable_iam_auth()
    world.ecr.put_registry_scanning_configuration(scanType="BASIC", rules=[])


def pushed_to_ecr(world: World, env: dict[str, str], tag: str = "v1") -> tuple[str, str, str]:
    """A new repository and an image pushed to it, known to moto: (repo, image, digest)."""
    repo = world.repo()
    image = world.local_image(repo, tag)
    code, out, err = ecrpy(env, "push", "--no-check", "--quiet", image)
    assert code == 0, (out, err)
    world.mirror_to_moto(repo, tag)
    digest = world.ecr.describe_images(repositoryName=repo)["imageDetails"][0]["imageDigest"]
    assert out.strip().endswith("@" + digest)
    return repo, image, digest


def findings(aws: AwsServer, repo: str, digest: str, status: str = "COMPLETE",
             counts: dict[str, int] | None = None, description: str | None = None) -> None:
    """What moto's DescribeImageScanFindings answers for REPO@DIGEST once a scan exists."""
    result: dict[str, Any] = {
        "registryId": MOTO_ACCOUNT, "repositoryName": repo, "imageId": {"imageDigest": digest},
        "imageScanStatus": {"status": status,
                            "description": description or f"scan {status.lower()}"},
    }
    if counts is not None:
        result["imageScanFindings"] = {
            "findingSeverityCounts": counts,
            "findings": [{"name": f"CVE-2099-{i}", "severity": sev}
                         for sev, n in counts.items() for i in range(n)],
        }
    aws.set_scan_findings([result], MOTO_REGION)


def scan_doc(out: str) -> dict[str, Any]:
    doc = json.loads(out)
    validate(doc)
    scan = doc["scan"]
    assert set(scan) == SCAN_KEYS, set(scan) ^ SCAN_KEYS
    counts = scan["severity_counts"]
    assert counts is None or set(counts) == set(SEVERITIES)
    assert (scan["total"] is None) == (counts is None)
    assert isinstance(scan["waited_seconds"], float)
    return scan


# -- severity paths -------------------------------------------------------------------------------

def test_findings_below_the_threshold_pass_and_the_counts_are_printed(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"MEDIUM": 2, "LOW": 1})
    aws.reset_counts()

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "high")
    assert code == 0, (out, err)
    assert "Traceback" not in err
    # scan on push is off here: ecrpy started the scan, and said so
    assert aws.calls("StartImageScan") == 1
    assert "scan: no scan of the pushed image yet; started one (ecr:StartImageScan)" in out
    assert re.search(r"^scan: no scan yet \(\d+s\)$", out, re.M), out
    assert ("scan (basic) COMPLETE: 3 findings: CRITICAL 0, HIGH 0, MEDIUM 2, LOW 1, "
            "INFORMATIONAL 0, UNDEFINED 0") in out
    assert f"@{digest} (1 layer" in out  # the push's own summary is still there


def test_findings_at_the_threshold_exit_6_with_the_json_document(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"HIGH": 1, "LOW": 4})

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "HIGH", "--json")
    assert code == 6, (out, err)
    scan = scan_doc(out)  # the push happened: the whole transfer document, with the scan
    assert scan["status"] == "COMPLETE" and scan["scan_type"] == "BASIC"
    assert scan["severity_counts"] == {"CRITICAL": 0, "HIGH": 1, "MEDIUM": 0, "LOW": 4,
                                       "INFORMATIONAL": 0, "UNDEFINED": 0}
    assert (scan["total"], scan["fail_on"], scan["at_or_above_fail_on"]) == (5, "HIGH", 1)
    assert scan["started_by_ecrpy"] is True and scan["problem"] is None
    line = one_line_error(err)
    assert line == (f"ecrpy: 1 finding at or above HIGH in {world.host}/{repo}@{digest} "
                    "(CRITICAL 0, HIGH 1, MEDIUM 0, LOW 4, INFORMATIONAL 0, UNDEFINED 0) "
                    "(--fail-on)")
    assert "scan: " in err  # progress went to stderr, stdout is only the document


def test_findings_above_the_threshold_exit_6(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"CRITICAL": 2, "HIGH": 1, "MEDIUM": 7})

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "HIGH")
    assert code == 6, (out, err)
    assert "3 findings at or above HIGH" in one_line_error(err)
    assert "scan (basic) COMPLETE: 10 findings: CRITICAL 2, HIGH 1, MEDIUM 7" in out

    # the same counts without a threshold: reported, and the push succeeds (a second scan
    # today is not allowed, and not needed: the findings are read again)
    code, out, err = ecrpy(env, "push", "--no-check", image, "--scan", "--json")
    assert code == 0, (out, err)
    scan = scan_doc(out)
    assert scan["total"] == 10 and scan["fail_on"] is None
    assert scan["at_or_above_fail_on"] is None and scan["started_by_ecrpy"] is False


def test_no_findings_pass_even_the_lowest_threshold(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={})

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "UNDEFINED", "--json")
    assert code == 0, (out, err)
    scan = scan_doc(out)
    assert scan["total"] == 0 and scan["at_or_above_fail_on"] == 0
    assert set(scan["severity_counts"].values()) == {0}


def test_a_failed_scan_exits_7_with_ecrs_description(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, status="FAILED",
             description="UnsupportedImageError: The operating system is not supported")

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "CRITICAL", "--json")
    assert code == 7, (out, err)
    scan = scan_doc(out)
    assert scan["status"] == "FAILED" and scan["severity_counts"] is None
    line = one_line_error(err)
    assert line.startswith(f"ecrpy: pushed, but no scan result: the scan of {repo}@{digest} "
                           "ended FAILED: UnsupportedImageError")


# -- waiting: progress and the timeout ------------------------------------------------------------

def test_waiting_shows_each_state_change_once_then_the_counts(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"LOW": 1})
    aws.hold_scans(3.0)

    started = time.monotonic()
    code, out, err = ecrpy(env, "push", "--no-check", image, "--scan")
    took = time.monotonic() - started
    assert code == 0, (out, err)
    states = re.findall(r"^scan: (no scan yet|IN_PROGRESS|COMPLETE) \((\d+)s\)$", out, re.M)
    assert [s for s, _ in states] == ["no scan yet", "IN_PROGRESS", "COMPLETE"], out
    assert int(states[-1][1]) >= 3  # it waited out the hold, polling (not one line per poll)
    assert took < 20
    # the push's own duration does not include the wait for the scan
    seconds = float(re.search(r"already there; .* in (\d+\.\d)s\)$", out, re.M).group(1))
    assert seconds < int(states[-1][1])
    assert "scan (basic) COMPLETE: 1 findings" in out

    # --quiet: nothing but the reference on stdout, no progress anywhere
    aws.hold_scans(1.0)
    code, out, err = ecrpy(env, "push", "--no-check", image, "--scan", "--quiet")
    assert code == 0, (out, err)
    assert out.strip() == f"{world.host}/{repo}@{digest}" and "scan" not in err


def test_a_scan_that_never_finishes_times_out_in_one_line(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"CRITICAL": 1})
    aws.hold_scans(None)

    started = time.monotonic()
    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "LOW",
                           "--scan-timeout", "2.5", "--json")
    took = time.monotonic() - started
    assert code == 7, (out, err)
    line = one_line_error(err)
    assert (f"ecrpy: pushed, but no scan result: the scan of {repo}@{digest} did not finish "
            "within 2.5 s (last state: IN_PROGRESS); raise --scan-timeout") in line
    assert "aws ecr describe-image-scan-findings" in line
    scan = scan_doc(out)
    assert scan["status"] == "TIMED_OUT" and scan["severity_counts"] is None
    assert 2.5 <= scan["waited_seconds"] < 4
    assert took < 20


@pytest.mark.parametrize("where", ["repository", "registry rule"])
def test_with_scan_on_push_ecrpy_waits_for_ecrs_scan_instead_of_starting_one(
    aws: AwsServer, world: World, env: dict[str, str], where: str
) -> None:
    repo, image, _ = pushed_to_ecr(world, env)
    if where == "repository":
        world.ecr.put_image_scanning_configuration(
            repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
    else:  # a basic-scanning rule whose wildcard filter matches the name
        world.ecr.put_registry_scanning_configuration(
            scanType="BASIC",
            rules=[{"scanFrequency": "SCAN_ON_PUSH",
                    "repositoryFilters": [{"filter": repo[:3] + "*", "filterType": "WILDCARD"}]}])
    aws.reset_counts()

    # moto never starts a scan on push: the scan does not appear, and ecrpy does not start
    # one within its grace period (60 s) for ECR's own
    code, out, err = ecrpy(env, "push", "--no-check", image, "--scan", "--scan-timeout", "2")
    assert code == 7, (out, err)
    assert aws.calls("StartImageScan") == 0 and aws.calls("DescribeImageScanFindings") >= 2
    assert ("did not finish within 2 s (last state: no scan yet; scan on push is configured, "
            "ECR has not started it)") in one_line_error(err)


# -- starting a scan ------------------------------------------------------------------------------

def test_start_image_scan_denied_names_the_action(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"HIGH": 1})
    user = world.user("noscan", POWER_USER + SCAN_READ)
    aws.enable_iam_auth()

    code, out, err = ecrpy(as_user(env, user), "push", image, "--fail-on", "HIGH")
    assert code == 7, (out, err)
    assert one_line_error(err) == (
        f"ecrpy: pushed, but no scan result: no scan of {repo}@{digest} exists and ecrpy may "
        "not start one (ecr:StartImageScan denied); grant ecr:StartImageScan, or turn on scan "
        "on push for the repository")

    # the same identity with ecr:StartImageScan gets its answer
    aws.disable_iam_auth()
    allowed = world.user("scan", POWER_USER + SCAN_READ + ["ecr:StartImageScan"])
    aws.enable_iam_auth()
    code, out, err = ecrpy(as_user(env, allowed), "push", image, "--fail-on", "HIGH")
    assert code == 6, (out, err)

    # an identity that may push but read neither the findings nor the registry's settings
    aws.disable_iam_auth()
    blind = world.user("blind", POWER_USER)
    aws.enable_iam_auth()
    code, out, err = ecrpy(as_user(env, blind), "push", image, "--scan")
    assert code == 7, (out, err)
    assert ("scan: the registry's scanning configuration is not readable "
            "(ecr:GetRegistryScanningConfiguration); assuming basic scanning") in out
    assert one_line_error(err) == (
        f"ecrpy: pushed, but no scan result: not allowed to read the scan findings of "
        f"{repo}@{digest} (ecr:DescribeImageScanFindings denied); grant "
        "ecr:DescribeImageScanFindings on the repository")


@pytest.mark.parametrize(
    ("fault", "status", "cause"),
    [
        ("limit", "NOT_STARTED",
         "ECR refused to start a scan of {repo}@{digest} (LimitExceededException): ECR allows "
         "one basic scan per image per 24 hours (and 100,000 per account)"),
        ("unsupported", "UNSUPPORTED_IMAGE",
         "ECR cannot scan {repo}@{digest} (UnsupportedImageTypeException)"),
    ],
)  # fmt: skip
def test_start_refused_by_ecr_exits_7_with_the_cause(
    aws: AwsServer, world: World, env: dict[str, str], fault: str, status: str, cause: str
) -> None:
    """No scan exists and StartImageScan is refused for a reason of ECR's own (its quota, an
    image it cannot scan): pushed, exit 7, one line with the cause; started_by_ecrpy false."""
    repo, image, digest = pushed_to_ecr(world, env)
    aws.set_fault("StartImageScan", fault)
    aws.reset_counts()
    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "HIGH", "--json")
    assert code == 7, (out, err)
    # botocore's standard retries count LimitExceededException as throttling: 3 attempts
    assert aws.calls("StartImageScan") == (3 if fault == "limit" else 1)
    expected = cause.format(repo=repo, digest=digest)
    assert one_line_error(err) == f"ecrpy: pushed, but no scan result: {expected}"
    scan = scan_doc(out)
    assert (scan["status"], scan["started_by_ecrpy"], scan["severity_counts"]) == (
        status, False, None)
    assert json.loads(out)["digest"] == digest  # the push itself is reported as done


def test_scan_on_push_that_never_shows_up_is_started_after_the_grace(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    """Scan on push is configured but ECR never starts the scan (moto never does): ecrpy
    waits SCAN_ON_PUSH_GRACE (60 s) for ECR's own, then starts one itself. Real moto, with
    the waiter's clock run fast instead of waiting a minute."""
    from credhelper import image_scan

    repo, _, digest = pushed_to_ecr(world, env)
    world.ecr.put_image_scanning_configuration(
        repositoryName=repo, imageScanningConfiguration={"scanOnPush": True})
    findings(aws, repo, digest, counts={"LOW": 2})
    aws.reset_counts()
    now = [0.0]
    starts_seen: list[tuple[float, int]] = []

    def sleep(seconds: float) -> None:
        starts_seen.append((now[0], aws.calls("StartImageScan")))
        now[0] += seconds

    waiter = image_scan.ScanWaiter(world.ecr, repo, MOTO_ACCOUNT, digest, timeout=600,
                                   clock=lambda: now[0], sleep=sleep)
    report = waiter.run()
    assert report.status == "COMPLETE" and report.started_by_ecrpy
    assert report.counts is not None and report.counts["LOW"] == 2
    assert aws.calls("StartImageScan") == 1
    # not one start before the grace ended, and the start came at its first poll after it
    assert all(calls == 0 for at, calls in starts_seen if at < image_scan.SCAN_ON_PUSH_GRACE)
    assert image_scan.SCAN_ON_PUSH_GRACE <= report.waited_seconds
    assert report.waited_seconds < image_scan.SCAN_ON_PUSH_GRACE + image_scan.POLL_MAX + 1
    assert any("started one (ecr:StartImageScan)" in n for n in report.notes)


def test_ctrl_c_while_waiting_for_the_scan_says_the_push_is_complete(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    findings(aws, repo, digest, counts={"HIGH": 1})
    world.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})
    aws.hold_scans(None)  # IN_PROGRESS until released
    code, err = ctrl_c_when(env, "IN_PROGRESS", "push", "--no-check", image, "--scan")
    assert code == 130, err
    assert one_line_error(err) == (
        f"ecrpy: interrupted while waiting for the scan; the push of {image} is complete")


def test_enhanced_scanning_reads_inspector_findings_and_starts_nothing(
    aws: AwsServer, world: World, env: dict[str, str]
) -> None:
    repo, image, digest = pushed_to_ecr(world, env)
    world.ecr.put_registry_scanning_configuration(
        scanType="ENHANCED",
        rules=[{"scanFrequency": "CONTINUOUS_SCAN",
                "repositoryFilters": [{"filter": "*", "filterType": "WILDCARD"}]}])
    world.ecr.start_image_scan(repositoryName=repo, imageId={"imageDigest": digest})  # Inspector
    findings(aws, repo, digest, status="ACTIVE", counts={"HIGH": 1, "UNTRIAGED": 2})
    aws.reset_counts()

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "CRITICAL", "--json")
    assert code == 0, (out, err)
    assert aws.calls("StartImageScan") == 0
    assert ("scan: the registry uses enhanced scanning: findings come from Amazon Inspector "
            "and ecrpy starts no basic scan (ecr:StartImageScan is not used)") in err
    scan = scan_doc(out)
    assert (scan["status"], scan["scan_type"]) == ("ACTIVE", "ENHANCED")
    assert scan["severity_counts"]["HIGH"] == 1
    assert scan["severity_counts"]["UNDEFINED"] == 2  # Inspector's UNTRIAGED

    code, out, err = ecrpy(env, "push", "--no-check", image, "--fail-on", "HIGH")
    assert code == 6 and "1 finding at or above HIGH" in one_line_error(err)


# -- usage ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scan-timeout", "5"], "--scan-timeout only applies with --scan or --fail-on"),
        (["--fail-on", "SEVERE"], "unknown severity 'SEVERE'"),
        (["--scan", "--scan-timeout", "0"], "must be a positive number of seconds"),
    ],
)
def test_scan_usage_errors_exit_2_before_anything_runs(
    aws: AwsServer, env: dict[str, str], args: list[str], message: str
) -> None:
    aws.reset_counts()
    code, out, err = ecrpy(env, "push", "--no-check", "127.0.0.1:1/none:v1", *args)
    assert code == 2, (out, err)
    assert message in err and "Traceback" not in err
    assert aws.counts() == {}
