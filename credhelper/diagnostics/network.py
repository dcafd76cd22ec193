"""Doctor checks over the network: each registry's ``/v2/`` answers, who the caller is
(sts:GetCallerIdentity), and a token per registry; plus ``network_cause``, a failed
connection's cause in words, which the engine check shares."""

from __future__ import annotations

import socket
from typing import Any

from ..errors import EcrpyError
from .check import FAIL, NETWORK_TIMEOUT, OK, WARN, Check

_MAX_TOKEN_CHECKS = 5  # a token per registry costs an AWS call each: enough to show a pattern


def _innermost_os_error(exc: BaseException) -> BaseException | None:
    """The OSError (or timeout) under the SDK's wrappers: requests -> urllib3 -> socket."""
    todo: list[BaseException] = [exc]
    seen: set[int] = set()
    found: BaseException | None = None
    while todo and len(seen) < 50:
        cur = todo.pop(0)
        if id(cur) in seen:
            continue
        seen.add(id(cur))
        if isinstance(cur, OSError | TimeoutError):
            found = cur  # keep the deepest
        for nxt in (cur.__cause__, cur.__context__, getattr(cur, "reason", None), *cur.args):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return found


def network_cause(exc: BaseException) -> tuple[str, str | None]:
    """A failed connection's cause in words, and what usually fixes it."""
    import errno
    import ssl

    inner = _innermost_os_error(exc) or exc
    if isinstance(inner, ssl.SSLCertVerificationError):
        return (
            f"its TLS certificate is not trusted ({inner.verify_message or 'verify failed'})",
            "add the registry's CA to the system trust store "
            "(for docker: /etc/docker/certs.d/HOST/ca.crt)",
        )
    if isinstance(inner, ssl.SSLError):
        return "the TLS handshake failed", "check that the address speaks HTTPS"
    if isinstance(inner, socket.gaierror):
        return "the host name does not resolve", "check the host name, DNS or VPN"
    if isinstance(inner, TimeoutError | socket.timeout):
        return (
            f"no answer within {NETWORK_TIMEOUT:.0f} s",
            "check the firewall, VPN and HTTPS_PROXY/NO_PROXY",
        )
    if isinstance(inner, ConnectionRefusedError):
        return "connection refused (nothing listens there)", None
    if isinstance(inner, FileNotFoundError):
        return "no such socket", None
    if isinstance(inner, PermissionError):
        return "permission denied", "add your user to the docker group, or use sudo"
    if isinstance(inner, OSError) and inner.errno:
        name = errno.errorcode.get(inner.errno, "")
        return (inner.strerror or name or type(inner).__name__), None
    return type(inner).__name__, None


# -- network: registries and AWS -----------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name in ("localhost", "::1") or name.startswith("127.")


def registry_reachability(host: str) -> Check:
    """``GET /v2/`` on the registry answers (any HTTP status: 401 is a registry asking for the
    credentials ecrpy provides). Loopback registries may be plain HTTP, as docker allows."""
    import urllib.error
    import urllib.request

    schemes = ["https", "http"] if _is_loopback(host) else ["https"]
    problem: tuple[str, str | None] = ("", None)
    for scheme in schemes:
        url = f"{scheme}://{host}/v2/"
        try:
            with urllib.request.urlopen(url, timeout=NETWORK_TIMEOUT) as resp:  # noqa: S310
                status = resp.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError) as exc:  # URLError is an OSError
            if not problem[0]:
                problem = network_cause(exc)
            continue
        if status in (200, 401):
            what = "asks for credentials" if status == 401 else "open"
            return Check(OK, f"registry {host}", f"{url} answered HTTP {status} ({what})")
        return Check(
            WARN,
            f"registry {host}",
            f"{url} answered HTTP {status}, not a registry's 200 or 401",
            "check the host name and port",
        )
    tried = " and ".join(schemes)
    cause, fix = problem
    return Check(
        FAIL,
        f"registry {host}",
        f"cannot reach {host}/v2/ over {tried}: {cause}",
        fix or "check the host name and port, and that the registry is running",
    )


def _token(host: str, config: Any) -> Check:
    from .. import registry as registry_mod
    from .. import tokens

    reg = registry_mod.resolve(host, config)
    if reg is None:
        return Check(WARN, f"token {host}", "not an ECR registry or alias; ecrpy will not serve it")
    settings = config.for_host(reg.host)
    try:
        entry = tokens.fetch(
            reg, settings.profile if settings else None, settings.role_arn if settings else None
        )
    except EcrpyError as exc:
        return Check(FAIL, f"token {host}", exc.message, exc.hint)
    hours = (entry.valid_until - entry.requested_at) / 3600
    return Check(OK, f"token {host}", f"issued, valid {hours:.1f} h")


def _caller() -> Check:
    try:
        return Check(OK, "caller", caller_arn())
    except EcrpyError as exc:
        return Check(FAIL, "caller", exc.message, exc.hint)


def caller_arn() -> str:
    """sts:GetCallerIdentity's ARN for the default identity, within ecrpy's bounded waits."""
    from ..sts_caller import caller

    return caller().arn


def network_checks(hosts: list[str], config: Any) -> list[Check]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(hosts) + 1)) as pool:
        reach = list(pool.map(registry_reachability, hosts))
    out = [_caller()]
    for host, check in zip(hosts, reach, strict=True):
        out.append(check)
        if hosts.index(host) < _MAX_TOKEN_CHECKS:
            out.append(_token(host, config))
    return out
