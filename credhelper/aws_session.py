"""botocore sessions for the identity ``identity.fingerprint`` names (cache misses only).

Owns: building a botocore (or boto3) session with ecrpy's bounded waits and retry defaults,
the AWS CLI's shared role cache, no MFA prompt, the per-registry ``role_arn`` on top of the
chain, the CA-bundle check, the RoleSessionName, reading a session's credential expiry, and
(on request) the trimmed models of ``botocore_models``.
It reaches into botocore's providers (``_prompter``, the builder's ``_cache``) where botocore
offers no public switch; each such place says so. Cold: imports botocore inside functions.
"""

from __future__ import annotations

import os

from . import aws_errors
from .aws_errors import CONNECT_TIMEOUT, READ_TIMEOUT
from .credential_chain import Chain
from .errors import CredentialsError
from .fast_role import named_profile, session_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    import boto3
    from botocore.credentials import CredentialResolver
    from botocore.session import Session as CoreSession
    from botocore.utils import JSONFileCache

__all__ = [
    "CONNECT_TIMEOUT",
    "DEFAULT_MAX_ATTEMPTS",
    "READ_TIMEOUT",
    "botocore_session",
    "client_defaults",
    "credentials_expiry",
    "default_region",
    "role_session_cache",
    "session",
    "session_name",
]

_LOGIN_HINT = (
    "run: aws sts get-caller-identity --profile {p} (or aws sso login) in a terminal first"
)
DEFAULT_MAX_ATTEMPTS = 3  # ecrpy's default when the user has not chosen (botocore's standard)


def role_session_cache() -> JSONFileCache:
    """botocore's JSONFileCache over the AWS CLI's cache with ``fast_role``'s rules, so damage
    is never fatal on either path: an entry it cannot read, decode or use
    (``fast_role.read_entry``) is absent (botocore's own raises KeyError from every ``get``
    until the file is deleted, and RecursionError on absurd nesting), and a failed write only
    costs the next run an AssumeRole."""
    from botocore.utils import JSONFileCache

    from . import fast_role

    class RoleSessionCache(JSONFileCache):
        def __contains__(self, cache_key: str) -> bool:
            # Read as fast_role reads it: only a usable entry is one, so botocore's own read
            # (json.load, after this) never meets damage or absurd nesting.
            path = os.path.join(fast_role.cli_cache_dir(), cache_key + ".json")
            return fast_role.read_entry(path) is not None

        def __setitem__(self, cache_key: str, value: object) -> None:
            try:
                super().__setitem__(cache_key, value)
            except OSError as exc:
                from .logs import get_logger

                get_logger().debug("role session not cached: %s", type(exc).__name__)

    return RoleSessionCache(fast_role.cli_cache_dir())


def _no_prompt(profile: str) -> Callable[[str], str]:
    def prompt(_text: str) -> str:
        raise CredentialsError(
            f"profile '{profile}' needs an MFA code and has no cached session",
            hint=_LOGIN_HINT.format(p=profile),
        )

    return prompt




def default_region(env: Mapping[str, str] | None = None) -> str | None:
    """``AWS_REGION``, then ``AWS_DEFAULT_REGION`` (the AWS CLI v2 and SDK order); None leaves
    the choice to botocore (the profile's ``region``). botocore itself reads only the second."""
    environ = os.environ if env is None else env
    return environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or None


def client_defaults(core: CoreSession) -> Any:
    """The session's default client Config: ecrpy's timeouts and its retry defaults, but only
    for the retry settings the user left unset (``AWS_RETRY_MODE``/``AWS_MAX_ATTEMPTS`` or the
    profile's ``retry_mode``/``max_attempts`` win, as in every AWS tool). FIPS and dual-stack
    are left to botocore's own reading of ``AWS_USE_FIPS_ENDPOINT``/``use_fips_endpoint`` etc."""
    from botocore.config import Config

    retries: dict[str, Any] = {}
    if not (os.environ.get("AWS_RETRY_MODE") or core.get_scoped_config().get("retry_mode")):
        retries["mode"] = "standard"  # jittered back-off on throttling, 5xx, connection errors
    if core.get_config_variable("max_attempts") is None:
        retries["total_max_attempts"] = DEFAULT_MAX_ATTEMPTS
    options: dict[str, Any] = {"retries": retries} if retries else {}
    return Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        user_agent_extra="ecrpy",
        **options,
    )


def _check_ca_bundle(core: CoreSession, profile: str) -> None:
    """A CA bundle that does not exist is named before any call fails on it obscurely."""
    from .errors import ConfigError

    bundle = core.get_config_variable("ca_bundle")
    if not bundle or os.path.isfile(bundle):
        return
    if os.environ.get("AWS_CA_BUNDLE") == bundle:
        where = f"AWS_CA_BUNDLE={bundle}"
    else:
        where = f"ca_bundle = {bundle} (profile '{profile}')"
    raise ConfigError(
        f"{where} does not exist",
        hint="point it at a PEM file of CA certificates, or unset it to use the default CAs",
    )


def session(
    profile: str | None = None,
    role_arn: str | None = None,
    region: str | None = None,
) -> boto3.Session:
    """A boto3 session over ``botocore_session`` (for callers that want boto3's API)."""
    import boto3

    core = botocore_session(profile, role_arn, region)
    return boto3.Session(botocore_session=core, region_name=region)


def botocore_session(
    profile: str | None = None,
    role_arn: str | None = None,
    region: str | None = None,
    *,
    trimmed_models: bool = False,
) -> CoreSession:
    """A botocore session for the identity ``fingerprint`` describes, credentials resolved.

    botocore rather than boto3: importing boto3 drags in s3transfer and multiprocessing
    (~45 ms), which a cold ``get`` does not need. Assumed roles (from the profile and from
    ``role_arn``) are cached in the AWS CLI's JSON cache, so sessions the CLI holds are reused
    and ours serve the CLI. Nothing ever prompts: an MFA profile without a cached session raises
    ``CredentialsError``. Credentials are resolved before returning so every credential problem
    surfaces here, as one ``EcrpyError`` with the fix (an expired SSO session names the
    ``aws sso login`` command).

    ``trimmed_models``: load models through ``botocore_models`` (only GetAuthorizationToken
    and the STS/SSO calls credential providers make; botocore's stock loader when that is not
    safe). Only for a session whose clients call nothing else (the token fetch).
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.parsers import ResponseParserError

    # Our own reading of the chain first: it names a missing profile or a source_profile loop
    # in ecrpy's words, and fingerprint() has accepted the same settings on the way here.
    name, _source = Chain(os.environ).resolve(profile)
    who = named_profile(profile, name)
    # ResponseParserError: an STS answer botocore could not parse (it is no BotoCoreError)
    caught = (BotoCoreError, ClientError, ResponseParserError, RuntimeError)
    with aws_errors.translated(None, who, catch=caught):
        core = botocore.session.Session(profile=profile)
        if trimmed_models:
            _use_trimmed_models(core)
        region = region or default_region()
        if region:
            core.set_config_variable("region", region)
        _check_ca_bundle(core, name)
        core.set_default_client_config(client_defaults(core))
        cache = role_session_cache()
        resolver = core.get_component("credential_provider")
        for method in ("assume-role", "assume-role-with-web-identity"):
            provider = resolver.get_provider(method)
            if provider is not None:
                provider.cache = cache
        assume = resolver.get_provider("assume-role")
        if assume is not None:
            if not hasattr(assume, "_prompter"):  # pragma: no cover - botocore changed
                raise CredentialsError("this botocore cannot be kept from prompting for MFA")
            assume._prompter = _no_prompt(name)
            # Source profiles that are web identity profiles come from this builder's cache.
            builder = getattr(assume, "_profile_provider_builder", None)
            if builder is not None and hasattr(builder, "_cache"):
                builder._cache = cache
        if role_arn:
            _install_role_override(core, resolver, role_arn, region, cache, name)
        creds = core.get_credentials()
        if creds is None:
            raise CredentialsError(
                "no AWS credentials found",
                hint="set AWS_PROFILE, run aws configure / aws sso login, or set env keys",
            )
        creds.get_frozen_credentials()  # runs a deferred AssumeRole now, not mid-request
        return core


def _use_trimmed_models(core: CoreSession) -> None:
    """``botocore_models.install``; on any failure the stock loader stays (correctness first:
    the trimmed models only save time)."""
    from . import botocore_models

    try:
        botocore_models.install(core)
    except Exception as exc:  # any failure here must only cost speed, never the answer
        from .logs import get_logger

        get_logger().debug("trimmed botocore models not used: %s", type(exc).__name__)


def _install_role_override(
    core: CoreSession,
    base: CredentialResolver,
    role_arn: str,
    region: str | None,
    cache: JSONFileCache,
    name: str,
) -> None:
    """Make ``core`` assume ``role_arn`` on top of what its own chain resolves."""
    from datetime import datetime, timezone

    from botocore.credentials import (
        AssumeRoleCredentialFetcher,
        CredentialProvider,
        CredentialResolver,
        DeferredRefreshableCredentials,
    )
    from botocore.exceptions import NoCredentialsError

    def client_creator(service: str, **kwargs: Any) -> Any:
        return core.create_client(service, region_name=region, **kwargs)

    class RoleOverride(CredentialProvider):
        METHOD = "assume-role"
        CANONICAL_NAME = None

        def load(self) -> DeferredRefreshableCredentials:
            source = base.load_credentials()
            if source is None:
                raise NoCredentialsError()
            fetcher = AssumeRoleCredentialFetcher(
                client_creator=client_creator,
                source_credentials=source,
                role_arn=role_arn,
                extra_args={"RoleSessionName": session_name()},
                mfa_prompter=_no_prompt(name),
                cache=cache,  # type: ignore[arg-type]  # botocore duck-types caches
            )
            return DeferredRefreshableCredentials(
                refresh_using=fetcher.fetch_credentials,
                method=self.METHOD,
                time_fetcher=lambda: datetime.now(timezone.utc),
            )

    core.register_component("credential_provider", CredentialResolver([RoleOverride()]))


def credentials_expiry(session: boto3.Session | CoreSession) -> float | None:
    """Epoch expiry of the session's credentials when temporary and known, else None."""
    creds = session.get_credentials()
    if creds is None:
        return None
    # session() has already resolved the credentials, so a deferred credential knows its
    # expiry; reading it here must not start a refresh (a network call).
    expiry = getattr(creds, "_expiry_time", None)
    if expiry is None or not hasattr(expiry, "timestamp"):
        return None
    return float(expiry.timestamp())
