"""AWS failures, read and explained: the one place that looks inside botocore's exceptions.

Owns: the accessors for a failure's error code, message and HTTP status (``error_details``,
``error_code``, ``http_status``, ``is_access_denied``), the translation of any AWS failure into
one ``EcrpyError`` with its cause and fix (``translate``), and the context manager every AWS
call site uses instead of writing the ``except EcrpyError: raise / except Exception: raise
translate(...)`` pair itself (``translated``). Also the bounded waits every AWS client uses,
because the messages quote them.

A leaf: it imports only ``errors`` and (inside functions) ``logs`` and botocore, so every
module that talks to AWS can use it without an import circle. Not on the hot path.
"""

from __future__ import annotations

from .errors import CredentialsError, EcrpyError, TokenError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType

    from .registry import Registry

__all__ = [
    "CONNECT_TIMEOUT",
    "READ_TIMEOUT",
    "error_code",
    "error_details",
    "http_status",
    "is_access_denied",
    "translate",
    "translated",
]

# Bounded waits for every client a session makes, the credential providers' STS clients too.
CONNECT_TIMEOUT = 2.0
READ_TIMEOUT = 3.0


def error_code(exc: BaseException) -> str:
    """The AWS error code (``RepositoryNotFoundException``...), moto's XML 403 unwrapped, or
    the exception's class name when it carries no code (a timeout, a parser error)."""
    code = error_details(exc)[0]
    return code or type(exc).__name__


def http_status(exc: BaseException) -> int | None:
    """The HTTP status of the failed response, None when there was no response."""
    response = getattr(exc, "response", None)
    meta = response.get("ResponseMetadata") if isinstance(response, dict) else None
    status = meta.get("HTTPStatusCode") if isinstance(meta, dict) else None
    return status if isinstance(status, int) else None


class translated:  # lower case: it reads as a statement, ``with aws_errors.translated(...):``
    """``with translated(registry, profile, service=...):`` -- an ``EcrpyError`` passes
    through unchanged; any other exception (or only those of the ``catch`` classes) becomes
    ``translate(exc, ...)``, raised without the original as context (its text may quote a
    secret; ``translate`` logs it)."""

    __slots__ = ("catch", "profile", "registry", "service")

    def __init__(
        self,
        registry: Registry | None,
        profile: str | None,
        service: str | None = None,
        catch: tuple[type[Exception], ...] = (Exception,),
    ) -> None:
        self.registry = registry
        self.profile = profile
        self.service = service
        self.catch = catch

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # None, not bool: it never swallows an exception (mypy reads the annotation)
        if exc is None or isinstance(exc, EcrpyError) or not isinstance(exc, self.catch):
            return  # nothing raised, already ours, not ours to explain (or Ctrl-C)
        raise translate(exc, self.registry, self.profile, self.service) from None


def error_details(exc: BaseException) -> tuple[str, str]:
    """(code, message) of a ClientError ("" for anything else); moto's XML 403 bodies, which
    carry the real code and message inside, are unwrapped."""
    response = getattr(exc, "response", None) or {}
    err = response.get("Error", {}) if isinstance(response, dict) else {}
    code, message = str(err.get("Code", "")), str(err.get("Message", ""))
    if code == "403" and "<Code>" in message:
        inner = message.split("<Code>", 1)[1].split("</Code>", 1)[0].strip()
        if inner:
            text = ""
            if "<Message>" in message:
                text = message.split("<Message>", 1)[1].split("</Message>", 1)[0]
            return inner, text.strip()
    return code, message


def is_access_denied(exc: Exception) -> bool:
    """Real ECR's JSON ``AccessDeniedException`` or moto's XML 403 ``AccessDenied``."""
    code, message = error_details(exc)
    if code in ("AccessDeniedException", "AccessDenied", "UnauthorizedOperation"):
        return True
    return code == "403" and "AccessDenied" in message


def translate(
    exc: Exception, registry: Registry | None, profile: str | None, service: str | None = None
) -> EcrpyError:
    """One ``EcrpyError`` (cause + fix) for any AWS failure. ``registry`` is set only when the
    failing call is ECR's token request; ``service`` names the API otherwise (e.g. "STS")."""
    import botocore.exceptions as be

    from . import logs

    where = registry.host if registry else (service or "AWS")
    logs.error("call for %s failed: %s: %s", where, type(exc).__name__, exc)
    who = f"profile '{profile}'" if profile else "the default AWS identity"
    login = f"aws sso login --profile {profile}" if profile else "aws sso login"
    if isinstance(exc, (be.SSOTokenLoadError, be.UnauthorizedSSOTokenError)) or (
        type(exc).__name__ in ("TokenRetrievalError", "SSOError")
    ):
        return CredentialsError(f"SSO session for {who} has expired", hint=f"run: {login}")
    if isinstance(exc, RuntimeError) and "expired" in str(exc):
        # botocore's bare error for credentials still expired after a refresh
        # (AWS_CREDENTIAL_EXPIRATION in the past, a stale credential_process answer)
        return CredentialsError(
            f"the AWS credentials of {who} have expired",
            hint=f"refresh them ({login}, or re-export the session and AWS_CREDENTIAL_EXPIRATION)",
        )
    if isinstance(exc, be.NoCredentialsError):
        return CredentialsError(
            "no AWS credentials found",
            hint="set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run: aws configure / aws sso login",
        )
    if isinstance(exc, be.NoRegionError):
        return CredentialsError(
            "no AWS region configured",
            hint="set AWS_REGION (or AWS_DEFAULT_REGION), or region in the AWS profile",
        )
    if isinstance(exc, be.ProfileNotFound):
        return CredentialsError(
            f"AWS profile {exc.kwargs.get('profile')!r} not found",
            hint="check AWS_PROFILE and ~/.aws/config, or the profile in ecrpy's config",
        )
    if isinstance(exc, be.CredentialRetrievalError):
        return _retrieval_error(exc, who)
    network = _network_cause(exc, registry, service)
    if network is not None:
        return network
    from botocore.parsers import ResponseParserError

    api = ("ECR Public" if registry.public else "ECR") if registry else (service or "AWS")

    if isinstance(exc, ResponseParserError):
        return TokenError(
            f"{api} sent a response that could not be parsed",
            hint="retry; if it persists, check any proxy between you and AWS",
        )
    if isinstance(exc, be.ClientError):
        return _client_error(exc, registry, who, login, api)
    if isinstance(exc, be.PartialCredentialsError):
        return CredentialsError(
            f"the AWS credentials from {exc.kwargs.get('provider', 'a provider')} are incomplete",
            hint="set the access key id and the secret (and session token) together",
        )
    # Unknown failures: the exception's text may quote a secret, so it goes to the log only.
    what = "could not get an ECR token" if registry else f"the {service or 'AWS'} call failed"
    return TokenError(f"{what} ({type(exc).__name__})", hint=f"details in {logs.log_path()}")


def _client_error(
    exc: Exception, registry: Registry | None, who: str, login: str, api: str
) -> EcrpyError:
    """An AWS API's refusal (a ClientError): denied, expired or rejected credentials,
    throttling, a server error, or anything else by its code."""
    code, _ = error_details(exc)
    if is_access_denied(exc):
        if registry is None:
            return TokenError(f"{who} was denied by {api} ({code})")
        if registry.public:
            return TokenError(
                f"{who} is not allowed to call ecr-public:GetAuthorizationToken",
                hint="grant ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken "
                "on resource *",
            )
        return TokenError(
            f"{who} is not allowed to call ecr:GetAuthorizationToken",
            hint="grant ecr:GetAuthorizationToken on resource * to the identity",
        )
    if code in ("ExpiredToken", "ExpiredTokenException", "RequestExpired"):
        return CredentialsError(
            f"the AWS credentials of {who} have expired",
            hint=f"refresh them (e.g. {login}, or re-export the session)",
        )
    if code in (
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
    ):
        return CredentialsError(
            f"AWS rejected the credentials of {who} ({code})",
            hint="check the access key and secret, or your system clock",
        )
    if code in ("ThrottlingException", "Throttling", "TooManyRequestsException"):
        return TokenError(f"{api} throttled the request", hint="retry in a few seconds")
    if code.startswith("5") or code in ("ServerException", "InternalFailure"):
        return TokenError(f"{api} answered with a server error ({code})", hint="retry later")
    return TokenError(f"{api} refused the request ({code or 'unknown error'})")


def _retrieval_error(exc: Exception, who: str) -> EcrpyError:
    """A credential provider failed: which one, why (when that is safe to show), the fix."""
    import os

    from . import logs

    kwargs = getattr(exc, "kwargs", {}) or {}
    provider = str(kwargs.get("provider", "provider"))
    if provider == "container-role":
        uri = os.environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or (
            "169.254.170.2" + os.environ.get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "")
        )
        # Only the HTTP status from botocore's text: the agent's body goes to the log alone.
        text = str(kwargs.get("error_msg", ""))
        # "Received non 200 response 401 from container metadata: BODY"
        status = text.split("non 200 response ", 1)[-1].split(" ", 1)[0].strip("()")
        why = f"HTTP {status}" if status.isdigit() else "no usable answer"
        return CredentialsError(
            f"the container credentials endpoint {uri} refused: {why}",
            hint="check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and the EKS Pod Identity agent "
            f"(or the ECS task role); details in {logs.log_path()}",
        )
    if provider == "custom-process":
        return CredentialsError(
            f"the credential_process of {who} failed",
            hint=f"run it by hand to see why; details in {logs.log_path()}",
        )
    return CredentialsError(
        f"could not get credentials for {who}: {provider} failed",
        hint=f"run the sso/credential command by hand to see why; details in {logs.log_path()}",
    )


# What the OS says when a name does not resolve (Linux, macOS, Windows).
_DNS_MARKERS = (
    "name or service not known",
    "nodename nor servname",
    "temporary failure in name resolution",
    "getaddrinfo failed",
    "no address associated",
    "name resolution",
)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps (botocore keeps urllib3's in ``kwargs['error']``)."""
    seen: list[BaseException] = []
    todo: list[object] = [exc]  # "reason" is a string on some exceptions (ssl.SSLError)
    while todo and len(seen) < 12:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is s for s in seen):
            continue
        seen.append(item)
        kwargs = getattr(item, "kwargs", None)
        inner = kwargs.get("error") if isinstance(kwargs, dict) else None
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None)]
        todo += [x for x in (inner, *getattr(item, "args", ())) if isinstance(x, BaseException)]
    return seen


def _service_label(url: str, registry: Registry | None, service: str | None) -> str:
    if service:
        return service
    if registry is not None:
        return "ECR Public" if registry.public else "ECR"
    host = _host_of(url)
    first = host.split(".", 1)[0]
    if first.startswith("sts"):
        return "STS"
    if "sso" in host or "oidc" in first:
        return "SSO"
    return "AWS"


def _host_of(url: str) -> str:
    rest = url.split("://", 1)[-1]
    return rest.split("/", 1)[0].rsplit("@", 1)[-1]


def _network_cause(
    exc: Exception, registry: Registry | None, service: str | None
) -> EcrpyError | None:
    """TLS, proxy, DNS, refused, timeout: the cause in words, the fix, and the log's path."""
    import botocore.exceptions as be

    from . import logs

    if not isinstance(exc, (be.ConnectionError, be.HTTPClientError)):
        return None
    kwargs = getattr(exc, "kwargs", {}) or {}
    url = str(kwargs.get("endpoint_url") or "")
    host = _host_of(url) if url else "the endpoint"
    label = _service_label(url, registry, service)
    details = f"details in {logs.log_path()}"
    texts = " ".join(str(e) for e in _chain(exc)).lower()
    if isinstance(exc, be.ProxyConnectionError):
        proxy = str(kwargs.get("proxy_url") or "the proxy")
        if "tunnel connection failed" in texts:
            return TokenError(
                f"the proxy {proxy} refused to connect to {label} ({host})",
                hint=f"allow that host on the proxy, or add it to NO_PROXY; {details}",
            )
        return TokenError(
            f"cannot connect to the proxy {proxy} (for {label})",
            hint=f"check HTTPS_PROXY / HTTP_PROXY / NO_PROXY and that the proxy runs; {details}",
        )
    if isinstance(exc, be.SSLError):
        if "certificate_verify_failed" in texts or "certificate verify failed" in texts:
            reason = "not trusted"
            for marker in ("self-signed certificate", "self signed certificate",
                           "unable to get local issuer certificate", "certificate has expired",
                           "hostname mismatch", "ip address mismatch"):
                if marker in texts:
                    reason = f"not trusted: {marker}"
                    break
            return TokenError(
                f"the TLS certificate of {label} ({host}) is {reason}",
                hint="if a proxy or firewall inspects TLS, set AWS_CA_BUNDLE to its CA "
                f"certificate (PEM); {details}",
            )
        return TokenError(
            f"TLS handshake with {label} ({host}) failed",
            hint=f"check AWS_CA_BUNDLE, any TLS-inspecting proxy and the endpoint URL; {details}",
        )
    if isinstance(exc, be.ConnectTimeoutError):
        return TokenError(
            f"{label} ({host}) did not accept a connection within {CONNECT_TIMEOUT:g} s",
            hint=f"check the network, firewall and proxy (HTTPS_PROXY); {details}",
        )
    if isinstance(exc, be.ReadTimeoutError):
        return TokenError(
            f"{label} ({host}) did not answer within {READ_TIMEOUT:g} s",
            hint=f"retry; if it persists, check the network and any proxy; {details}",
        )
    if any(marker in texts for marker in _DNS_MARKERS) or "gaierror" in texts:
        return TokenError(
            f"cannot resolve {host}: DNS lookup failed (calling {label})",
            hint="check the host name (AWS_ENDPOINT_URL*, the region) and your DNS or VPN; "
            + details,
        )
    if "connection refused" in texts or "errno 111" in texts or "10061" in texts:
        return TokenError(
            f"{host} refused the connection (calling {label})",
            hint=f"check AWS_ENDPOINT_URL* and that the endpoint is up; {details}",
        )
    if isinstance(exc, be.ConnectionClosedError):
        return TokenError(
            f"{label} ({host}) closed the connection before answering",
            hint=f"retry; if it persists, check any proxy between you and AWS; {details}",
        )
    if isinstance(exc, be.EndpointConnectionError):
        return TokenError(
            f"cannot reach {label} ({host})",
            hint=f"check the network, proxy (HTTPS_PROXY) and AWS_ENDPOINT_URL*; {details}",
        )
    return None
