"""Container-endpoint and ``credential_process`` credentials without botocore, for
``fast_token``'s cold ``get``.

On an ECS task, an EKS pod (Pod Identity), CodeBuild, or with a ``credential_process`` profile,
botocore's path spends ~110 ms importing and loading models before it asks for the keys. This
module asks as botocore's ``ContainerProvider`` / ``ContainerMetadataFetcher`` and
``ProcessProvider`` do:

* container: ``GET`` the relative URI on 169.254.170.2 or the full URI (plain HTTP to a
  loopback or one of botocore's allowed hosts), ``Accept: application/json`` and the
  ``Authorization`` token (``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` read whole, else
  ``AWS_CONTAINER_AUTHORIZATION_TOKEN``; CR/LF refused); 2 s timeouts, 3 attempts 1 s apart;
  no proxy (botocore's fetcher uses none);
* process: the command split as ``shlex.split`` (POSIX), run with stdout/stderr captured,
  its JSON read with botocore's rules (``Version`` 1, ``AccessKeyId``, ``SecretAccessKey``,
  optional ``SessionToken``/``Expiration``);
* then what ``RefreshableCredentials`` does on first use: keys with less than 15 minutes left
  are fetched once more (a failure then is fatal only under 10 minutes), and keys still expired
  after that fail with botocore's words.

Failures are raised as botocore raises them (``CredentialRetrievalError`` for the provider's
own failures, built only on that path; the plain Python exception where botocore lets one
through), so ``fast_token`` translates both paths' failures alike. None (botocore decides)
for what this module does not do: HTTPS or other hosts for the container endpoint, Windows
command lines, an ``Expiration`` botocore might read differently. One difference: botocore
re-fetches short-lived keys on every use within those 15 minutes; this module fetches at
most twice. ``tests/test_fast_sources.py`` holds both to botocore.
"""

from __future__ import annotations

import sys
import time

from . import _json
from .fast_role import STILL_EXPIRED, Defer, Keys, expiry

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

__all__ = ["container", "process"]

# botocore.credentials' RefreshableCredentials windows.
ADVISORY_REFRESH = 15 * 60
MANDATORY_REFRESH = 10 * 60
# botocore.utils.ContainerMetadataFetcher
_ECS_HOST = "169.254.170.2"
_ALLOWED_HOSTS = (_ECS_HOST, "169.254.170.23", "fd00:ec2::23", "localhost")
_TIMEOUT = 2.0
_ATTEMPTS = 3
_SLEEP = 1.0
# Characters urllib3 sends as they are in a request target (no ";": botocore's urlparse
# splits path parameters off; no "%": urllib3 rewrites escapes).
_PLAIN_TARGET = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@/?"
)


def _retrieval_error(provider: str, message: str) -> Exception:
    from botocore.exceptions import CredentialRetrievalError

    return CredentialRetrievalError(provider=provider, error_msg=message)


def _first_use(
    fetch: Callable[[], tuple[Keys, float | None]], first: tuple[Keys, float | None]
) -> tuple[Keys, float | None]:
    """``RefreshableCredentials._refresh`` on the first ``get_frozen_credentials``."""
    expires_at = first[1]
    if expires_at is None or expires_at - time.time() >= ADVISORY_REFRESH:
        return first
    mandatory = expires_at - time.time() < MANDATORY_REFRESH
    try:
        refreshed = fetch()
    except Defer:
        raise
    except Exception:
        if mandatory:
            raise
        return first  # an advisory refresh that fails keeps the keys botocore has
    if refreshed[1] is None:  # botocore's refresh fails on it (parse(None), past its guard)
        raise Defer("refreshed keys without expiration")
    if refreshed[1] - time.time() < 0:
        raise RuntimeError(STILL_EXPIRED)
    return refreshed


# -- container endpoint ---------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    from ipaddress import ip_address

    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _container_url(env: Mapping[str, str]) -> tuple[str, int, str, str]:
    """(host, port, request target, Host header) of the endpoint botocore would call."""
    from urllib.parse import urlsplit

    if "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in env:
        url = f"http://{_ECS_HOST}" + env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
    else:
        url = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    try:
        parts = urlsplit(url)
        port = 80 if parts.port is None else parts.port
    except ValueError:
        raise Defer("container URL") from None
    host = parts.hostname or ""
    if parts.scheme != "http" or parts.username is not None or parts.password is not None:
        raise Defer("container URL")  # HTTPS, or a URL botocore would refuse its own way
    if host not in _ALLOWED_HOSTS and not _is_loopback(host):
        raise Defer("container host")  # botocore refuses it with its own ValueError
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not _PLAIN_TARGET.issuperset(target):
        raise Defer("container URL path")  # urllib3 %-encodes it, urlparse drops ;params
    netloc = f"[{host}]" if ":" in host else host
    return host, port, target, netloc if parts.port is None else f"{netloc}:{parts.port}"


def _container_headers(env: Mapping[str, str]) -> list[tuple[str, str]]:
    """``ContainerProvider._build_headers``: the token file wins over the variable."""
    token = None
    if "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE" in env:
        with open(env["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"]) as f:
            token = f.read()
    elif "AWS_CONTAINER_AUTHORIZATION_TOKEN" in env:
        token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    headers = [("Accept", "application/json")]
    if token is not None:
        if "\r" in token or "\n" in token:
            raise ValueError("Auth token value is not a legal header value")
        if not token.isascii():
            try:
                token.encode("latin-1")
            except UnicodeEncodeError:
                raise Defer("authorization token") from None  # urllib3 fails its own way
        headers.append(("Authorization", token))
    return headers


def _container_answer(host: str, port: int, target: str, headers: list[tuple[str, str]]) -> Any:
    """One attempt: the parsed JSON, or the text botocore's MetadataRetrievalError carries."""
    from . import http1

    try:
        resp = http1.request(
            "GET", host, port, target, headers, b"",
            context=None, connect_timeout=_TIMEOUT, read_timeout=_TIMEOUT,
        )  # fmt: skip
    except (OSError, http1.ProtocolError) as exc:
        raise _Attempt(
            f"Received error when attempting to retrieve container metadata: {exc}"
        ) from None
    text = resp.body.decode("utf-8")
    if resp.status != 200:
        raise _Attempt(f"Received non 200 response {resp.status} from container metadata: {text}")
    try:
        return _json.loads(text)
    except ValueError:
        pass
    import json  # botocore's reader, which also takes NaN/Infinity (strict _json does not)

    try:
        return json.loads(text)
    except ValueError:
        raise _Attempt(
            "Unable to parse JSON returned from container metadata services"
        ) from None


class _Attempt(Exception):
    """One failed attempt, with botocore's MetadataRetrievalError text."""


def _container_fetch(env: Mapping[str, str]) -> tuple[Keys, float | None]:
    host, port, target, netloc = _container_url(env)
    headers = [("Host", netloc), *_container_headers(env), ("Content-Length", "0")]
    attempts = 0
    while True:
        try:
            doc = _container_answer(host, port, target, headers)
            break
        except _Attempt as failure:
            attempts += 1
            if attempts >= _ATTEMPTS:  # botocore also sleeps after the last attempt: no need
                raise _retrieval_error(
                    "container-role", f"Error retrieving metadata: {failure}"
                ) from None
            time.sleep(_SLEEP)
    creds = (doc["AccessKeyId"], doc["SecretAccessKey"], doc["Token"])
    stamp = doc["Expiration"]
    if not all(isinstance(v, str) for v in creds):
        raise Defer("container answer types")
    return creds, expiry(stamp)


def container(env: Mapping[str, str]) -> tuple[Keys, float | None]:
    """The container endpoint's keys as botocore would use them (may raise ``Defer``)."""
    return _first_use(lambda: _container_fetch(env), _container_fetch(env))


# -- credential_process ---------------------------------------------------------------------


def _run(command: str) -> tuple[Keys, float | None]:
    """``ProcessProvider._retrieve_credentials_using``."""
    import shlex
    import subprocess

    argv = shlex.split(command)
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = p.communicate()
    if p.returncode != 0:
        raise _retrieval_error("custom-process", stderr.decode("utf-8"))
    text = stdout.decode("utf-8")
    try:
        parsed = _json.loads(text)
    except ValueError:
        import json  # botocore's own reader: the same exception (and type) on this path

        parsed = json.loads(text)
    version = parsed.get("Version", "<Version key not provided>")
    if version != 1:
        raise _retrieval_error(
            "custom-process",
            f"Unsupported version '{version}' for credential process provider, "
            "supported versions: 1",
        )
    try:
        keys = (parsed["AccessKeyId"], parsed["SecretAccessKey"], parsed.get("SessionToken"))
    except KeyError as e:
        raise _retrieval_error(
            "custom-process", f"Missing required key in response: {e}"
        ) from None
    stamp = parsed.get("Expiration")
    if not (isinstance(keys[0], str) and isinstance(keys[1], str)) or not isinstance(
        keys[2], (str, type(None))
    ):
        raise Defer("process answer types")
    return keys, None if stamp is None else expiry(stamp)


def process(command: str) -> tuple[Keys, float | None]:
    """What the profile's ``credential_process`` gives botocore (may raise ``Defer``)."""
    if sys.platform == "win32":
        raise Defer("Windows command line")  # botocore splits it its own way there
    return _first_use(lambda: _run(command), _run(command))
