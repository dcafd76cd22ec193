"""Which AWS credential source applies: botocore's default chain, walked on paper.

Owns: the order of botocore's credential providers (``ORDER``, one tuple, named by each
provider's ``METHOD``), the rules by which each one applies (env keys, assume role with
``source_profile``/``credential_source``, web identity, SSO, the shared files, ``login_session``,
``credential_process``, the legacy files, the container endpoint, IMDS), and the ``Source`` it
picks: botocore's method name, the settings that name the principal (secrets hashed), and
words for humans. Pure and offline: it reads the environment and the shared files
(``aws_files``), never the network, never botocore. *Hot*: ``identity.fingerprint`` runs it on
every ``get`` (docs/CONTRIBUTING-hot-path.md).

Left whole (~430 lines) on purpose: every provider is a method of the one ``Chain`` walk over
shared state (env, files, visited profiles), and on the hot path each extra module is one
more file to find and load per ``get``.
"""

from __future__ import annotations

from . import _json
from ._sha import sha256_hex
from .aws_files import (
    Section,
    SharedFiles,
    boto_credentials,
    ec2_credential_file,
    expand_path,
)
from .errors import CredentialsError

TYPE_CHECKING = False  # typing costs ~6 ms to import; mypy treats this name as True
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["ORDER", "PROFILE_PROVIDERS", "Chain", "Source"]

_IMDS_VARS = (
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
)
_CREDENTIAL_SOURCES = ("Environment", "Ec2InstanceMetadata", "EcsContainer")
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


class Source:
    """One resolved link of the chain: botocore's provider, hashable material, words."""

    __slots__ = ("fields", "kind", "material", "method", "text")

    def __init__(
        self,
        method: str,
        kind: str,
        text: str,
        material: list[object],
        fields: dict[str, str] | None = None,
    ) -> None:
        self.method = method  # botocore's CredentialProvider.METHOD, e.g. "assume-role"
        self.kind = kind  # short name of the provider in words, e.g. "assume role"
        self.text = text  # the whole chain in words, e.g. "profile dev: assume role ... via ..."
        self.material = material  # JSON-able; secrets already hashed
        self.fields = fields or {}  # non-secret details for describe()


class Chain:
    """botocore's credential chain for one environment, evaluated without network."""

    __slots__ = ("env", "files")

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.files = SharedFiles(env)

    # -- providers that need no profile ------------------------------------------------------

    def env_keys(self) -> Source | None:
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
        found = self._keys("env", "environment keys", "the environment", key_id, secret, token)
        found.text = "environment keys" + (" with session token" if token else "")
        return found

    def container(self, name: str = "", use_env: bool = True) -> Source | None:
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
        material: list[object] = ["container", uri, token_file, token, subject]
        return Source("container-role", "container", text, material, fields)

    def imds(self, name: str = "", use_env: bool = True) -> Source:
        markers = [self.env.get(name) for name in _IMDS_VARS]
        material: list[object] = ["imds", *markers]
        if (self.env.get("AWS_EC2_METADATA_DISABLED") or "").lower() == "true":
            # botocore's IMDS fetcher then answers nothing: the chain ends without credentials
            text = "no credentials: nothing earlier in the chain, and IMDS is off " \
                "(AWS_EC2_METADATA_DISABLED=true)"
            return Source("iam-role", "instance metadata (disabled)", text, material)
        return Source("iam-role", "instance metadata", "EC2 instance metadata (IMDS)", material)

    def ec2_credential_file(self, name: str = "", use_env: bool = True) -> Source | None:
        found = ec2_credential_file(self.env)
        if found is None or "AWSAccessKeyId" not in found[1]:
            return None
        path, pairs = found
        key_id, secret = pairs["AWSAccessKeyId"], pairs.get("AWSSecretKey")
        return self._keys("ec2-credentials-file", "ec2 credential file", path, key_id, secret, None)

    def boto_config(self, name: str = "", use_env: bool = True) -> Source | None:
        found = boto_credentials(self.env)
        if found is None:
            return None
        path, creds = found
        key_id, secret = creds["aws_access_key_id"], creds.get("aws_secret_access_key")
        return self._keys("boto-config", "boto config", path, key_id, secret, None)

    @staticmethod
    def _keys(
        method: str, kind: str, where: str, key_id: str, secret: str | None, token: str | None
    ) -> Source:
        return Source(
            method,
            kind,
            f"static keys in {where}" + (" with session token" if token else ""),
            [_KEYS, key_id, _secret(secret), _secret(token)],
            {"access_key_id": _mask(key_id)},
        )

    # -- profile providers -------------------------------------------------------------------

    def _static(
        self, method: str, section: Section | None, where: str, profile: str
    ) -> Source | None:
        if not section or "aws_access_key_id" not in section:
            return None
        key_id = section["aws_access_key_id"]
        secret = section.get("aws_secret_access_key")
        if not secret:
            raise CredentialsError(
                f"profile '{profile}' has aws_access_key_id but no aws_secret_access_key in {where}"
            )
        token = section.get("aws_security_token") or section.get("aws_session_token")
        return self._keys(method, "static keys", where, key_id, secret, token)

    def web_identity(self, name: str, use_env: bool) -> Source | None:
        """AssumeRoleWithWebIdentityProvider: the env variables (unless a profile was passed
        explicitly), else the profile's keys."""
        profile = self.files.profiles().get(name, {})
        env = self.env

        def setting(key: str, var: str) -> str | None:
            if use_env and var in env:
                return env[var]
            return profile.get(key)

        token_file = setting("web_identity_token_file", "AWS_WEB_IDENTITY_TOKEN_FILE")
        if not token_file:
            return None
        role_arn = setting("role_arn", "AWS_ROLE_ARN")
        if not role_arn:
            raise CredentialsError(
                "a web identity token file is configured but no role ARN",
                hint="set AWS_ROLE_ARN or role_arn in the profile",
            )
        return Source(
            "assume-role-with-web-identity",
            "web identity",
            f"web identity → assume role {role_arn}",
            ["web-identity", role_arn, token_file],
            {"role_arn": role_arn, "web_identity_token_file": token_file},
        )

    def sso(self, name: str, use_env: bool) -> Source | None:
        profile = self.files.profiles().get(name, {})
        if "sso_role_name" in profile or "sso_account_id" in profile:
            return self._sso(name, profile)
        return None

    def credentials_file(self, name: str, use_env: bool) -> Source | None:
        where = self.files.display(self.files.credentials_path, self.env)
        section = self.files.credentials_sections().get(name)
        return self._static("shared-credentials-file", section, where, name)

    def login(self, name: str, use_env: bool) -> Source | None:
        login = self.files.profiles().get(name, {}).get("login_session")
        if login is None:
            return None
        return Source("login", "login", f"aws login session {login}", ["login", login])

    def process(self, name: str, use_env: bool) -> Source | None:
        command = self.files.profiles().get(name, {}).get("credential_process")
        if command is None:
            return None
        return Source(
            "custom-process",
            "credential process",
            f"credential_process {command}",
            ["process", command],
            {"credential_process": command},
        )

    def config_file(self, name: str, use_env: bool) -> Source | None:
        where = self.files.display(self.files.config_path, self.env)
        section = self.files.config_profiles().get(name)
        return self._static("config-file", section, where, name)

    def profile_providers(self, name: str, use_env: bool) -> Source | None:
        """botocore's ProfileProviderBuilder.providers: the first of PROFILE_PROVIDERS that
        answers for profile ``name``."""
        for _method, step in PROFILE_PROVIDERS:
            found = step(self, name, use_env)
            if found is not None:
                return found
        return None

    def _sso(self, name: str, profile: Section) -> Source:
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
        return Source(
            "sso",
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

    def assume_role(self, name: str, visited: list[str]) -> Source:
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
        return Source(
            "assume-role",
            "assume role",
            f"assume role {role_arn} via {source.text}",
            ["assume-role", role_arn, external_id, mfa_serial, source.material],
            fields,
        )

    def source_profile(self, name: str, visited: list[str]) -> Source:
        """What a source_profile yields (AssumeRoleProvider._resolve_credentials_from_profile)."""
        profile = self.files.profiles()[name]
        if self._has_static(profile) or not self._is_assume_role(profile):
            found = self.profile_providers(name, use_env=False)
            if found is None:
                raise CredentialsError(f"source profile '{name}' has no credentials")
            return found
        return self.assume_role(name, visited)

    def _named_source(self, profile: str, name: str) -> Source:
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

    def env_step(self, name: str, use_env: bool) -> Source | None:
        # botocore drops the EnvProvider when a profile is passed explicitly
        return self.env_keys() if use_env else None

    def assume_role_step(self, name: str, use_env: bool) -> Source | None:
        profile = self.files.profiles().get(name, {})
        return self.assume_role(name, [name]) if self._is_assume_role(profile) else None

    # -- the whole chain ---------------------------------------------------------------------

    def resolve(self, explicit: str | None) -> tuple[str, Source]:
        """The profile name in effect and the first link of ``ORDER`` that would answer."""
        env = self.env
        explicit = explicit or None  # an empty override means "none", not a profile named ""
        named = explicit or env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or None
        name = named or "default"
        if named is not None and name not in self.files.profiles():
            # botocore refuses a named profile that does not exist, even when env keys win.
            where = self.files.display(self.files.config_path, env)
            raise CredentialsError(
                f"profile '{name}' not found in {where}",
                hint=f"check AWS_PROFILE and the registry's profile, or run: "
                f"aws configure --profile {name}",
            )
        for _method, step in ORDER:
            found = step(self, name, explicit is None)
            if found is not None:
                return name, found
        raise AssertionError("unreachable: the IMDS link always answers")  # pragma: no cover


# One step of the chain: (chain, profile name, whether env variables count) -> a source or None
# (steps that need neither take them with defaults, so credential_source can call them too).
# The orders below are botocore's (credentials.create_credential_resolver and
# ProfileProviderBuilder.providers), named by each provider's METHOD; the differential test in
# tests/test_credential_chain.py checks them against botocore's own resolver.
PROFILE_PROVIDERS: tuple[tuple[str, Callable[[Chain, str, bool], Source | None]], ...] = (
    ("assume-role-with-web-identity", Chain.web_identity),
    ("sso", Chain.sso),
    ("shared-credentials-file", Chain.credentials_file),
    ("login", Chain.login),
    ("custom-process", Chain.process),
    ("config-file", Chain.config_file),
)
ORDER: tuple[tuple[str, Callable[[Chain, str, bool], Source | None]], ...] = (
    ("env", Chain.env_step),
    ("assume-role", Chain.assume_role_step),
    *PROFILE_PROVIDERS,
    ("ec2-credentials-file", Chain.ec2_credential_file),
    ("boto-config", Chain.boto_config),
    ("container-role", Chain.container),
    ("iam-role", Chain.imds),  # always answers: botocore asks IMDS, which may have no role
)
