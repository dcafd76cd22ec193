"""The ``ecrpy`` command's own start: ``ecrpy --help`` and ``--version`` against ``python -c
pass``, and ``ecrpy check push`` with +50 ms per AWS request. Run alone:
``.venv/bin/python scripts/bench_cli.py``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench_common import (
    CLI,
    HOST,
    LATENCY_MS,
    PY,
    Args,
    Aws,
    Cmd,
    Section,
    Target,
    World,
    ms,
    paired,
    ratio_target,
)

from tests.support import MOTO_REGION, TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY

HELP_LIMIT = 2.5
CHECK_LIMIT_S = 1.0


def measure(aws: Aws, tmp: Path, args: Args) -> Section:
    w = World(tmp, "cli")
    floor, help_, version = paired(
        "ecrpy start",
        [
            Cmd("python -c pass", [str(PY), "-c", "pass"], w, stdin=False, expect=None),
            Cmd("ecrpy --help", [str(CLI), "--help"], w, stdin=False, expect="usage"),
            Cmd("ecrpy --version", [str(CLI), "--version"], w, stdin=False, expect="ecrpy"),
        ],
        args.hot_runs,
        tmp=tmp,
    )
    targets = [
        ratio_target("`ecrpy --help`", HELP_LIMIT, help_, floor, "`python -c pass`"),
        ratio_target("`ecrpy --version`", HELP_LIMIT, version, floor, "`python -c pass`"),
    ]
    rows = [floor, help_, version]
    c = World(tmp, "check", aws.proxy(LATENCY_MS), aws.ca)
    c.env.update(zip(("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), _pusher(aws), strict=True))
    image = f"{HOST}/bench/app:latest"
    (check,) = paired(
        f"check, +{LATENCY_MS} ms",
        [Cmd(f"ecrpy check push {image}", [str(CLI), "check", "push", image], c, stdin=False,
             expect=None)],
        max(5, args.runs // 3),
        warmup=1,
        aws=aws,
        tmp=tmp,
    )  # fmt: skip
    rows.append(check)
    targets.append(
        Target(f"`ecrpy check push`, +{LATENCY_MS} ms per AWS request", f"≤ {ms(CHECK_LIMIT_S)}",
               ms(check.median), check.median <= CHECK_LIMIT_S)
    )  # fmt: skip
    return Section("The ecrpy command", rows, targets)


def _pusher(aws: Aws) -> tuple[str, str]:
    """An IAM user allowed ecr:* (so the check has an identity whose policies it can read)."""
    import boto3

    iam = boto3.client("iam", endpoint_url=aws.url, region_name=MOTO_REGION,
                       aws_access_key_id=TEST_ACCESS_KEY_ID,
                       aws_secret_access_key=TEST_SECRET_ACCESS_KEY)  # fmt: skip
    iam.create_user(UserName="bench-pusher")
    policy = {"Version": "2012-10-17",
              "Statement": [{"Effect": "Allow", "Action": "ecr:*", "Resource": "*"}]}  # fmt: skip
    iam.put_user_policy(UserName="bench-pusher", PolicyName="push",
                        PolicyDocument=json.dumps(policy))  # fmt: skip
    key = iam.create_access_key(UserName="bench-pusher")["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


if __name__ == "__main__":
    from bench_all import run_alone

    sys.exit(run_alone(measure))
