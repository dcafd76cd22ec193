"""credhelper.sigv4 against botocore's SigV4Auth: the same headers, byte for byte."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from credhelper import sigv4

TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
RESERVED = {"authorization", "x-amz-date", "date", "x-amz-security-token", "host"}

header_names = st.text(TOKEN_CHARS, min_size=1, max_size=20).filter(
    lambda n: n.lower() not in RESERVED
)
# Printable ASCII plus the whitespace the canonical form trims and collapses.
header_values = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.sampled_from(" \t"), max_size=40
)
segments = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_~", min_size=1)
paths = st.lists(segments, max_size=3).map(lambda parts: "/" + "/".join(parts))
hosts = st.sampled_from(
    [
        "api.ecr.us-east-1.amazonaws.com",
        "API.ECR.EU-WEST-1.AMAZONAWS.COM",
        "api.ecr.cn-north-1.amazonaws.com.cn",
        "127.0.0.1",
        "localhost",
    ]
)
regions = st.sampled_from(["us-east-1", "eu-west-1", "cn-north-1", "us-gov-west-1"]) | st.text(
    "abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=16
)
services = st.sampled_from(["ecr", "ecr-public", "sts"]) | st.text(
    "abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12
)
secrets = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
times = st.datetimes(
    min_value=datetime.datetime(1990, 1, 1), max_value=datetime.datetime(2099, 12, 31)
)


def _botocore_headers(
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    service: str,
    creds: tuple[str, str, str | None],
    now: datetime.datetime,
) -> list[tuple[str, str]]:
    netloc = host if port is None else f"{host}:{port}"
    request = AWSRequest(method="POST", url=f"{scheme}://{netloc}{path}", data=body)
    for name, value in headers:
        request.headers.add_header(name, value)  # keeps repeats, as an HTTP client would send
    before = len(list(request.headers.items()))
    with mock.patch("botocore.auth.get_current_datetime", return_value=now):
        SigV4Auth(Credentials(*creds), service, region).add_auth(request)
    return list(request.headers.items())[before:]


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["https", "http"]),
    host=hosts,
    port=st.none() | st.sampled_from([80, 443, 5000, 8443]),
    path=paths,
    headers=st.lists(st.tuples(header_names, header_values), max_size=6),
    body=st.binary(max_size=200),
    region=regions,
    service=services,
    key=st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", min_size=16, max_size=20),
    secret=secrets,
    token=st.none() | secrets,
    now=times,
)
def test_signature_matches_botocore(
    scheme: str,
    host: str,
    port: int | None,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    region: str,
    service: str,
    key: str,
    secret: str,
    token: str | None,
    now: datetime.datetime,
) -> None:
    expected = _botocore_headers(
        scheme, host, port, path, headers, body, region, service, (key, secret, token), now
    )
    ours = sigv4.sign(
        method="POST",
        scheme=scheme,
        host=host,
        port=port,
        path=path,
        headers=headers,
        body=body,
        region=region,
        service=service,
        access_key=key,
        secret_key=secret,
        token=token,
        timestamp=now.strftime("%Y%m%dT%H%M%SZ"),
    )
    assert ours == expected


def test_a_known_signature() -> None:
    """The request the fast path sends, with AWS's documented example key: the header layout
    AWS documents (scope, signed header list) and botocore's value."""
    added = sigv4.sign(
        method="POST",
        scheme="https",
        host="api.ecr.us-east-1.amazonaws.com",
        port=None,
        path="/",
        headers=[
            ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        body=b"{}",
        region="us-east-1",
        service="ecr",
        access_key="AKIDEXAMPLE",
        secret_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        token=None,
        timestamp="20150830T123600Z",
    )
    expected = _botocore_headers(
        "https",
        "api.ecr.us-east-1.amazonaws.com",
        None,
        "/",
        [
            ("X-Amz-Target", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"),
            ("Content-Type", "application/x-amz-json-1.1"),
        ],
        b"{}",
        "us-east-1",
        "ecr",
        ("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", None),
        datetime.datetime(2015, 8, 30, 12, 36),
    )
    assert added == expected
    assert added[-1][1].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/ecr/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="
    )


@pytest.mark.parametrize("path", ["", "/a/../b", "/a//b", "/a b", "/caf\u00e9", "/?x=1"])
def test_paths_that_would_need_normalizing_are_refused(path: str) -> None:
    with pytest.raises(ValueError):
        sigv4.sign(
            method="POST",
            scheme="https",
            host="h",
            port=None,
            path=path,
            headers=[],
            body=b"",
            region="r",
            service="s",
            access_key="k",
            secret_key="s",
            token=None,
            timestamp="20150830T123600Z",
        )
