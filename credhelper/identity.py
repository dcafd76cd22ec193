"""Which AWS identity the helper acts as: a cheap fingerprint, a description, and a session.

``fingerprint`` runs on every ``docker-credential-ecrpy get`` to key the token cache, so it
walks botocore's default credential chain *on paper*: it reads the environment and the shared
files (see ``aws_files``) and hashes the settings that decide which principal the chain would
reach, without importing boto3 and without a network call. The order follows
``botocore.credentials.create_credential_resolver``:

1. environment keys (skipped when a profile is passed explicitly, as botocore does);
2. the profile's ``role_arn`` with ``source_profile``/``credential_source`` (assume role);
3. web identity (``AWS_ROLE_ARN``/``AWS_WEB_IDENTITY_TOKEN_FILE`` or the profile's keys),
   SSO, the credentials file, ``login_session``, ``credential_process``, config-file keys;
4. the legacy ``AWS_CREDENTIAL_FILE`` and boto2 config, the container endpoint, then IMDS.

What goes into the hash: key ids and *hashes* of secrets and session tokens (a rotated secret
or a new session is a new identity), role ARNs with external id and MFA serial (but not the
session name: one role across sessions is one identity), web identity token *paths*, SSO
start URL/account/role, process commands, container URIs, and the endpoint overrides (a test
server's tokens must never be served for the real registry). Profile names are left out:
two profiles with the same source are the same identity.

``session`` is the heavyweight counterpart used on a cache miss; it imports boto3 lazily.
"""

from __future__ import annotations

import os

from . import _json
from ._sha import sha256_hex
from .aws_files import Section, SharedFiles, expand_path, read_ini
from .errors import CredentialsError

TYPE_CHECKING = False  # typing costs ~6 ms to import; mypy treats this name as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    import boto3
    from botocore.credentials import CredentialResolver
    from botocore.session import Session as CoreSession
    from botocore.utils import JSONFileCache

__all__ = [
    "credentials_expiry",
    "credentials_expiry_from_env",
    "describe",
    "fingerprint",
    "session",
]

_VERSION = "ecrpy-identity/1"  # bump when the hashed material changes meaning
_ENDPOINT_VARS = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_ENDPOINT_URL_ECR_PUBLIC",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)
_IMDS_VARS = (
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
)
_CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
_LOGIN_HINT = (
    "run: aws sts get-caller-identity --profile {p} (or aws sso login) in a terminal first"
)
# Sources that do not come from the profile, described without "profile NAME:".
_PROFILELESS = frozenset(
    {"environment keys", "container", "instance metadata", "ec2 credential file", "boto config"}
)
_KEYS = "keys"  # one label for static keys wherever they live: same keys, same identity


def _secret(value: str | None) -> str:
    """A one-way stand-in for a secret in the hashed material and in memory."""
    return sha256_hex(value.encode()) if value else ""


def _token_subject(path: str) -> str | None:
    """The ``sub`` claim of the JWT in ``path`` (EKS Pod Identity: the service account), or
    None when the file is unreadable or not a JWT (botocore then reports the real problem).
    The signature is not checked: the subject only keeps two identities' caches apart."""
    import binascii

    try:
        with open(path, "rb") as f:
            parts = f.read(65536).strip().split(b".")
        if len(parts) != 3:
            return None
        payload = parts[1] + b"=" * (-len(parts[1]) % 4)
        claims = _json.loads(binascii.a2b_base64(payload.replace(b"-", b"+").replace(b"_", b"/")))
    except (OSError, ValueError, binascii.Error):
        return None
    subject = claims.get("sub") if isinstance(claims, dict) else None
    return subject if isinstance(subject, str) and subject else None


def _mask(key_id: str) -> str:
    return f"{key_id[:4]}…{key_id[-4:]}" if len(key_id) > 8 else "…"


class _Source:
    """One resolved link of the chain: hashable material plus words for humans."""

    __slots__ = ("fields", "kind", "material", "text")

    def __init__(
        self, kind: str, text: str, material: list[object], fields: dict[str, str] | None = None
    ) -> None:
        self.kind = kind  # short name of the provider, e.g. "assume role"
        self.text = text  # the whole chain in words, e.g. "profile dev: assume role ... via ..."
        self.material = material  # JSON-able; secrets already hashed
        self.fields = fields or {}  # non-secret details for describe()


class _Chain:
    """botocore's credential chain for one environment, evaluated without network."""

    __slots__ = ("env", "files")

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.files = SharedFiles(env)

    # -- providers that need no profile ------------------------------------------------------

    def env_keys(self) -> _Source | None:
        env = self.env
        key_id = env.get("AWS_ACCESS_KEY_ID", "")
        if not key_id:
            return None
        secret = env.get("AWS_SECRET_ACCESS_KEY", "")
        if not secret:
            raise CredentialsError(
                "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is empty",
                hint="set both variables, or unset AWS_ACCESS_KEY_ID to use a profile",
            )
        token = env.get("AWS_SECURITY_TOKEN") or env.get("AWS_SESSION_TOKEN") or None
        found = self._keys("environment keys", "the environment", key_id, secret, token)
        found.text = "environment keys" + (" with session token" if token else "")
        return found

    def container(self) -> _Source | None:
        env = self.env
        if "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI" in env:
            uri = "relative:" + env["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"]
        elif "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env:
            uri = "full:" + env["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
        else:
            return None
        # EKS Pod Identity: the token file's content rotates, so the hash takes its path and the
        # service account it names (the JWT's "sub"), not the token; a fixed token is hashed.
        token_file = env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")
        token = None if token_file else _secret(env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN"))
        subject = _token_subject(expand_path(token_file, env)) if token_file else None
        fields = {"container_credentials_uri": uri.partition(":")[2]}
        text = "container credentials endpoint"
        if subject:
            fields["service_account"] = subject
            text = f"EKS Pod Identity ({subject})"
        return _Source("container", text, ["container", uri, token_file, token, subject], fields)

    def imds(self) -> _Source:
        markers = [self.env.get(name) for name in _IMDS_VARS]
        return _Source("instance metadata", "EC2 instance metadata (IMDS)", ["imds", *markers])

    def _legacy_files(self) -> _Source | None:
        """AWS_CREDENTIAL_FILE (EC2 API tools) and boto2's config, which botocore still reads."""
        env = self.env
        if "AWS_CREDENTIAL_FILE" in env:
            path = expand_path(env["AWS_CREDENTIAL_FILE"], env)
            pairs: dict[str, str] = {}
            try:
                with open(path, encoding="utf-8") as f:
                    for line in f.read().splitlines():
                        key, sep, value = line.partition("=")
                        if sep:
                            pairs[key.strip()] = value.strip()
            except OSError as exc:
                raise CredentialsError(f"cannot read AWS_CREDENTIAL_FILE {path}: {exc}") from None
            if "AWSAccessKeyId" in pairs:
                return self._keys(
                    "ec2 credential file",
                    path,
                    pairs["AWSAccessKeyId"],
                    pairs.get("AWSSecretKey"),
                    None,
                )
        boto = env.get("BOTO_CONFIG")
        for path in [boto] if boto is not None else ["/etc/boto.cfg", "~/.boto"]:
            try:
                sections = read_ini(expand_path(path, env))
            except CredentialsError:
                continue  # a broken legacy file must not block the chain's later links
            creds = (sections or {}).get("Credentials", {})
            if "aws_access_key_id" in creds:
                return self._keys(
                    "boto config",
                    path,
                    creds["aws_access_key_id"],
                    creds.get("aws_secret_access_key"),
                    None,
                )
        return None

    @staticmethod
    def _keys(kind: str, where: str, key_id: str, secret: str | None, token: str | None) -> _Source:
        return _Source(
            kind,
            f"static keys in {where}" + (" with session token" if token else ""),
            [_KEYS, key_id, _secret(secret), _secret(token)],
            {"access_key_id": _mask(key_id)},
        )

    # -- profile providers -------------------------------------------------------------------

    def _static(self, section: Section | None, where: str, profile: str) -> _Source | None:
        if not section or "aws_access_key_id" not in section:
            return None
        key_id = section["aws_access_key_id"]
        secret = section.get("aws_secret_access_key")
        if not secret:
            raise CredentialsError(
                f"profile '{profile}' has aws_access_key_id but no aws_secret_access_key in {where}"
            )
        token = section.get("aws_security_token") or section.get("aws_session_token")
        return self._keys("static keys", where, key_id, secret, token)

    def profile_providers(self, name: str, use_env: bool) -> _Source | None:
        """botocore's ProfileProviderBuilder.providers, in order."""
        profile = self.files.profiles().get(name, {})
        env = self.env

        def setting(key: str, var: str) -> str | None:
            if use_env and var in env:
                return env[var]
            return profile.get(key)

        token_file = setting("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE")
        if token_file:
            role_arn = setting("role_arn", "AWS_ROLE_ARN")
            if not role_arn:
                raise CredentialsError(
                    "a web identity token file is configured but no role ARN",
                    hint="set AWS_ROLE_ARN or role_arn in the profile",
                )
            return _Source(
                "web identity",
                f"web identity → assume role {role_arn}",
                ["web-identity", role_arn, token_file],
                {"role_arn": role_arn, "web_identity_token_file": token_file},
            )

        if "sso_role_name" in profile or "sso_account_id" in profile:
            return self._sso(name, profile)

        where = self.files.display(self.files.credentials_path, env)
        found = self._static(self.files.credentials_sections().get(name), where, name)
        if found:
            return found

        if "login_session" in profile:
            login = profile["login_session"]
            return _Source("login", f"aws login session {login}", ["login", login])

        command = profile.get("credential_process")
        if command is not None:
            return _Source(
                "credential process",
                f"credential_process {command}",
                ["process", command],
                {"credential_process": command},
            )

        where = self.files.display(self.files.config_path, env)
        return self._static(self.files.config_profiles().get(name), where, name)

    def _sso(self, name: str, profile: Section) -> _Source:
        settings = dict(profile)
        required = ["sso_start_url", "sso_region", "sso_role_name", "sso_account_id"]
        session_name = profile.get("sso_session")
        if session_name is not None:
            section = self.files.sso_session(session_name)
            if section is None:
                raise CredentialsError(
                    f"profile '{name}' refers to [sso-session {session_name}], which does not exist"
                )
            for key, value in section.items():
                if settings.get(key, value) != value:
                    raise CredentialsError(
                        f"{key} differs between profile '{name}' and sso-session {session_name}"
                    )
                settings[key] = value
        missing = [key for key in required if key not in settings]
        if missing:
            raise CredentialsError(
                f"profile '{name}' is configured for SSO but lacks {', '.join(missing)}"
            )
        account, role, url = (
            settings[k] for k in ("sso_account_id", "sso_role_name", "sso_start_url")
        )
        return _Source(
            "sso",
            f"sso {role} in {account} ({url})",
            ["sso", url, account, role],
            {"sso_account_id": account, "sso_role_name": role, "sso_start_url": url},
        )

    # -- assume role -------------------------------------------------------------------------

    @staticmethod
    def _is_assume_role(profile: Section) -> bool:
        return "role_arn" in profile and "web_identity_token_file" not in profile

    @staticmethod
    def _has_static(profile: Section) -> bool:
        return "aws_access_key_id" in profile or "aws_secret_access_key" in profile

    def assume_role(self, name: str, visited: list[str]) -> _Source:
        """botocore's AssumeRoleProvider for profile ``name`` (a role_arn profile)."""
        profiles = self.files.profiles()
        profile = profiles[name]
        role_arn = profile["role_arn"]
        source_profile = profile.get("source_profile")
        credential_source = profile.get("credential_source")
        if source_profile is not None and credential_source is not None:
            raise CredentialsError(
                f"profile '{name}' has both source_profile and credential_source"
            )
        if credential_source is not None:
            source = self._named_source(name, credential_source)
        elif source_profile is not None:
            if source_profile not in profiles:
                raise CredentialsError(
                    f"source_profile '{source_profile}' of profile '{name}' does not exist"
                )
            # A profile may name itself to take static keys from its own section; any other
            # revisit is a loop.
            if source_profile in visited and (
                source_profile != name or not self._has_static(profiles[source_profile])
            ):
                chain = " → ".join([*visited, source_profile])
                raise CredentialsError(f"source_profile loop: {chain}")
            visited.append(source_profile)
            source = self.source_profile(source_profile, visited)
            source.text = f"profile {source_profile}: {source.text}"
        else:
            raise CredentialsError(
                f"profile '{name}' has role_arn but neither source_profile nor credential_source"
            )
        external_id = profile.get("external_id")
        mfa_serial = profile.get("mfa_serial")
        fields = {"role_arn": role_arn}
        if mfa_serial:
            fields["mfa_serial"] = mfa_serial
        return _Source(
            "assume role",
            f"assume role {role_arn} via {source.text}",
            ["assume-role", role_arn, external_id, mfa_serial, source.material],
            fields,
        )

    def source_profile(self, name: str, visited: list[str]) -> _Source:
        """What a source_profile yields (AssumeRoleProvider._resolve_credentials_from_profile)."""
        profile = self.files.profiles()[name]
        if self._has_static(profile) or not self._is_assume_role(profile):
            found = self.profile_providers(name, use_env=False)
            if found is None:
                raise CredentialsError(f"source profile '{name}' has no credentials")
            return found
        return self.assume_role(name, visited)

    def _named_source(self, profile: str, name: str) -> _Source:
        if name not in _CREDENTIAL_SOURCES:
            raise CredentialsError(
                f"credential_source {name!r} in profile '{profile}' is not one of "
                + ", ".join(_CREDENTIAL_SOURCES)
            )
        if name == "Environment":
            found = self.env_keys()
        elif name == "EcsContainer":
            found = self.container()
        else:
            found = self.imds()
        if found is None:
            raise CredentialsError(
                f"credential_source {name} of profile '{profile}' provides no credentials"
            )
        found.text = f"credential_source {name} ({found.text})"
        return found

    # -- the whole chain ---------------------------------------------------------------------

    def resolve(self, explicit: str | None) -> tuple[str, _Source]:
        """The profile name in effect and the first link of the chain that would answer."""
        env = self.env
        explicit = explicit or None  # an empty override means "none", not a profile named ""
        named = explicit or env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or None
        name = named or "default"
        profiles = self.files.profiles()
        if named is not None and name not in profiles:
            # botocore refuses a named profile that does not exist, even when env keys win.
            where = self.files.display(self.files.config_path, env)
            raise CredentialsError(
                f"profile '{name}' not found in {where}",
                hint=f"check AWS_PROFILE and the registry's profile, or run: "
                f"aws configure --profile {name}",
            )
        if explicit is None:
            found = self.env_keys()
            if found:
                return name, found
        profile = profiles.get(name, {})
        if self._is_assume_role(profile):
            return name, self.assume_role(name, [name])
        found = self.profile_providers(name, use_env=explicit is None)
        if found is None:
            found = self._legacy_files() or self.container() or self.imds()
        return name, found

    def endpoints(self, name: str) -> list[object]:
        """Endpoint overrides in effect: tokens from a test server must stay apart."""
        profile = self.files.profiles().get(name, {})
        services = profile.get("services")
        return [
            *(self.env.get(var) for var in _ENDPOINT_VARS),
            profile.get("endpoint_url"),
            profile.get("ignore_configured_endpoint_urls"),
            self.files.services(services) if services else None,
        ]


def _environ(env: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if env is None else env


def _resolve(
    profile: str | None, role_arn: str | None, env: Mapping[str, str] | None
) -> tuple[_Chain, str, _Source, list[object]]:
    chain = _Chain(_environ(env))
    name, source = chain.resolve(profile)
    if role_arn:
        source = _Source(
            "assume role",
            f"assume role {role_arn} (per-registry) via {source.text}",
            ["role-override", role_arn, source.material],
            {**source.fields, "role_arn": role_arn},
        )
    return chain, name, source, chain.endpoints(name)


def fingerprint(
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Hex SHA-256 naming the AWS identity the credential chain would resolve.

    ``profile`` and ``role_arn`` are a registry's overrides from ecrpy's config; ``env``
    defaults to ``os.environ``. Raises ``CredentialsError`` for a missing profile, a
    ``source_profile`` loop or settings botocore would refuse.
    """
    _chain, _name, source, endpoints = _resolve(profile, role_arn, env)
    return _digest(source, endpoints)


def _digest(source: _Source, endpoints: list[object]) -> str:
    # JSON keeps the nesting unambiguous: no field can run into the next.
    doc = [_VERSION, source.material, endpoints]
    return sha256_hex(_json.dumps_compact(doc).encode())


def describe(
    profile: str | None = None,
    role_arn: str | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Which source the chain would use, in words, for ``ecrpy whoami``/``doctor``.

    Access key ids are masked and secrets never appear.
    """
    chain, name, source, endpoints = _resolve(profile, role_arn, env)
    environ = chain.env
    out = {
        "profile": name,
        "source": source.kind,
        "chain": source.text if source.kind in _PROFILELESS else f"profile {name}: {source.text}",
        "fingerprint": _digest(source, endpoints),
        "config_file": chain.files.display(chain.files.config_path, environ),
        "credentials_file": chain.files.display(chain.files.credentials_path, environ),
    }
    out.update(source.fields)
    named = environ.get("AWS_DEFAULT_PROFILE") or environ.get("AWS_PROFILE")
    if source.kind == "environment keys" and not profile and named:
        var = "AWS_DEFAULT_PROFILE" if environ.get("AWS_DEFAULT_PROFILE") else "AWS_PROFILE"
        out["overrides"] = (
            f"AWS_ACCESS_KEY_ID in the environment overrides {var}={named} "
            "(unset AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY to use the profile)"
        )
    region = _region_with_origin(chain, name)
    if region:
        out["region"] = region
    overrides = [f"{v}={environ[v]}" for v in _ENDPOINT_VARS if environ.get(v)]
    if endpoints[len(_ENDPOINT_VARS)]:
        overrides.append(f"endpoint_url={endpoints[len(_ENDPOINT_VARS)]}")
    if overrides:
        out["endpoint"] = ", ".join(overrides)
    return out


def _region_with_origin(chain: _Chain, name: str) -> str | None:
    """The default region and where it comes from, in the AWS CLI v2 order."""
    for var in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        if chain.env.get(var):
            return f"{chain.env[var]} ({var})"
    region = chain.files.profiles().get(name, {}).get("region")
    return f"{region} (profile {name})" if region else None


def _parse_iso8601(text: str) -> float | None:
    from datetime import datetime, timezone

    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"  # Python 3.10's fromisoformat does not accept "Z"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # AWS writes UTC
    return moment.timestamp()


def credentials_expiry_from_env(env: Mapping[str, str] | None = None) -> float | None:
    """Epoch seconds of ``AWS_CREDENTIAL_EXPIRATION`` (ISO 8601), when set and valid."""
    text = _environ(env).get("AWS_CREDENTIAL_EXPIRATION", "")
    return _parse_iso8601(text) if text.strip() else None


# --------------------------------------------------------------------------------------------
# boto3 sessions (cache misses only)
# --------------------------------------------------------------------------------------------


def cli_cache_dir() -> str:
    """The AWS CLI's credential cache, shared so a role session is assumed once for both."""
    return os.path.join(os.path.expanduser("~"), ".aws", "cli", "cache")


def session_name() -> str:
    """``ecrpy-<user>``: a RoleSessionName CloudTrail readers can attribute."""
    import re

    user = os.environ.get("USER") or os.environ.get("LOGNAME") or os.environ.get("USERNAME")
    if not user:
        try:
            import getpass

            user = getpass.getuser()
        except (ImportError, KeyError, OSError):
            user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    # STS allows [\w+=,.@-] with \w meaning ASCII only.
    return ("ecrpy-" + re.sub(r"[^A-Za-z0-9_+=,.@-]", "-", user))[:64]


def _no_prompt(profile: str) -> Callable[[str], str]:
    def prompt(_text: str) -> str:
        raise CredentialsError(
            f"profile '{profile}' needs an MFA code and has no cached session",
            hint=_LOGIN_HINT.format(p=profile),
        )

    return prompt


# Bounded waits for every client a session makes, the credential providers' STS clients too.
from .aws_errors import CONNECT_TIMEOUT, READ_TIMEOUT  # noqa: E402  # leaf, no import cost

DEFAULT_MAX_ATTEMPTS = 3  # ecrpy's default when the user has not chosen (botocore's standard)


def default_region(env: Mapping[str, str] | None = None) -> str | None:
    """``AWS_REGION``, then ``AWS_DEFAULT_REGION`` (the AWS CLI v2 and SDK order); None leaves
    the choice to botocore (the profile's ``region``). botocore itself reads only the second."""
    environ = _environ(env)
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
) -> CoreSession:
    """A botocore session for the identity ``fingerprint`` describes, credentials resolved.

    botocore rather than boto3: importing boto3 drags in s3transfer and multiprocessing
    (~45 ms), which a cold ``get`` does not need. Assumed roles (from the profile and from
    ``role_arn``) are cached in the AWS CLI's JSON cache, so sessions the CLI holds are reused
    and ours serve the CLI. Nothing ever prompts: an MFA profile without a cached session raises
    ``CredentialsError``. Credentials are resolved before returning so every credential problem
    surfaces here, as one ``EcrpyError`` with the fix (an expired SSO session names the
    ``aws sso login`` command).
    """
    import botocore.session
    from botocore.exceptions import BotoCoreError, ClientError
    from botocore.utils import JSONFileCache

    from . import aws_errors

    # Our own reading of the chain first: it names a missing profile or a source_profile loop
    # in ecrpy's words, and fingerprint() has accepted the same settings on the way here.
    name, _source = _Chain(os.environ).resolve(profile)
    # "profile 'default'" would mislead when no profile was chosen
    who = profile or (None if name == "default" else name)
    with aws_errors.translated(None, who, catch=(BotoCoreError, ClientError, RuntimeError)):
        core = botocore.session.Session(profile=profile)
        region = region or default_region()
        if region:
            core.set_config_variable("region", region)
        _check_ca_bundle(core, name)
        core.set_default_client_config(client_defaults(core))
        cache = JSONFileCache(cli_cache_dir())
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
