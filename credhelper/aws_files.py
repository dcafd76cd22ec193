"""The AWS shared config and credentials files, read the way botocore reads them.

botocore parses these with ``configparser`` (~4 ms to import) on every session; the helper's
hot path only needs a few keys to fingerprint the identity, so this module carries a small
reader with ``RawConfigParser``'s semantics as botocore configures it: ``=`` or ``:``
delimiters, full-line ``#``/``;`` comments (no inline comments), lower-cased keys,
case-sensitive section names, indented continuation lines (botocore's nested ``s3 =``
blocks), a ``[DEFAULT]`` section inherited by every other section, and errors on duplicate
sections or keys within one file. Parsed files are memoised per process by their stat, so the
CLI can fingerprint many registries for the cost of one read.

*Hot* (docs/CONTRIBUTING-hot-path.md).
"""

from __future__ import annotations

import os

from .errors import CredentialsError

TYPE_CHECKING = False  # typing costs ~6 ms to import; mypy treats this name as True
if TYPE_CHECKING:
    import re
    from collections.abc import Mapping

Section = dict[str, str]
Sections = dict[str, Section]

# No compiled regular expressions at import (each costs ~0.2-0.6 ms): configparser's SECTCRE
# and OPTCRE are reproduced with string methods in _header() and _option().
_VAR_PATTERN = r"\$(\w+|\{[^}]*\})"  # posixpath.expandvars; compiled on first use only
_DEFAULT_SECTION = "DEFAULT"

# path -> ((mtime_ns, size, inode), sections)
_MEMO: dict[str, tuple[tuple[int, int, int], Sections]] = {}


def _header(line: str) -> str | None:
    """configparser's ``\\[(?P<header>.+)\\]`` matched at the start of a stripped line."""
    end = line.rfind("]")
    return line[1:end] if line.startswith("[") and end >= 2 else None


def _option(line: str) -> tuple[str, str] | None:
    """configparser's ``(?P<option>.*?)\\s*[=:]\\s*(?P<value>.*)$``: split at the first
    delimiter."""
    cut = min((i for i in (line.find("="), line.find(":")) if i >= 0), default=-1)
    if cut < 0:
        return None
    return line[:cut].rstrip(), line[cut + 1 :].strip()


def parse_ini(text: str, source: str = "<string>") -> Sections:
    """Sections of an INI document, as botocore's ``raw_config_parse`` sees them.

    Nested blocks stay one string (``"\\nkey = value\\n..."``), as with
    ``parse_subsections=False``: nothing on the hot path reads inside them.
    """
    sections: Sections = {}
    defaults: Section = {}
    pending: dict[str, list[str]] = {}  # multi-line values under construction, current section
    seen: set[object] = set()
    current: Section | None = None
    section_name = ""
    option = ""
    indent_level = 0
    errors: list[int] = []

    def flush() -> None:
        if current is not None:
            for key, parts in pending.items():
                current[key] = "\n".join(parts).rstrip()
        pending.clear()

    # Universal newlines only, as a text-mode file read gives configparser (splitlines() would
    # also break on form feeds and U+2028).
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for lineno, line in enumerate(lines, start=1):
        stripped = line.strip()
        is_comment = stripped.startswith(("#", ";"))
        if not stripped or is_comment:
            # A blank line inside a multi-line value is kept; a comment line is dropped.
            if not is_comment and option and option in pending:
                pending[option].append("")
            continue
        indent = len(line) - len(line.lstrip())
        if current is not None and option and indent > indent_level:
            pending[option].append(stripped)
            continue
        indent_level = indent
        header = _header(stripped)
        if header is not None:
            flush()
            section_name = header
            if section_name in seen and section_name != _DEFAULT_SECTION:
                raise CredentialsError(
                    f"{source} line {lineno}: duplicate section [{section_name}]"
                )
            seen.add(section_name)
            if section_name == _DEFAULT_SECTION:
                current = defaults
            else:
                current = sections.setdefault(section_name, {})
            option = ""
            continue
        if current is None:
            raise CredentialsError(f"{source} line {lineno}: a key outside any [section]")
        pair = _option(stripped)
        if pair is None or not pair[0]:
            errors.append(lineno)
            option = ""
            continue
        option = pair[0].lower()
        if (section_name, option) in seen:
            raise CredentialsError(
                f"{source} line {lineno}: duplicate key {option!r} in [{section_name}]"
            )
        seen.add((section_name, option))
        pending[option] = [pair[1]]
    flush()
    if errors:
        where = ", ".join(map(str, errors[:5]))
        raise CredentialsError(f"{source}: cannot parse line(s) {where}: expected key = value")
    if defaults:
        for name, values in sections.items():
            sections[name] = {**defaults, **values}
    return sections


def read_ini(path: str) -> Sections | None:
    """The sections of the INI file at ``path``; None when it does not exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    memo = _MEMO.get(path)
    if memo is not None and memo[0] == key:
        return memo[1]
    if not os.path.isfile(path):
        return None  # botocore ignores a directory or device in the file's place
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read {path}: {exc}") from None
    sections = parse_ini(text, path)
    _MEMO[path] = (key, sections)
    return sections


def expand_path(path: str, env: Mapping[str, str]) -> str:
    """``$VAR`` and ``~`` expansion as botocore applies it, but taken from ``env``."""

    def var(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("{"):
            name = name[1:-1]
        return env.get(name, match.group(0))

    if "$" in path:
        import re

        path = re.sub(_VAR_PATTERN, var, path)
    if os.name == "posix" and (path == "~" or path.startswith("~/")) and "HOME" in env:
        return (env["HOME"].rstrip("/") + path[1:]) or "/"  # posixpath.expanduser's rule
    return os.path.expanduser(path)


def _section_words(name: str) -> list[str] | None:
    """``shlex.split(name)`` (botocore's rule for ``[profile "a b"]``) without importing shlex:
    POSIX words, '...' literal, "..." with backslash escaping only ``"`` and ``\\``, a
    backslash outside quotes escaping any character; None where shlex raises ValueError."""
    words: list[str] = []
    word: list[str] = []
    in_word = False
    quote = ""
    i = 0
    while i < len(name):
        c = name[i]
        i += 1
        if quote == "'":
            if c == "'":
                quote = ""
            else:
                word.append(c)
        elif quote == '"':
            if c == '"':
                quote = ""
            elif c == "\\" and i < len(name) and name[i] in '"\\':
                word.append(name[i])
                i += 1
            else:
                word.append(c)
        elif c in " \t\r\n":
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        else:
            in_word = True
            if c in "'\"":
                quote = c
            elif c == "\\":
                if i >= len(name):
                    return None
                word.append(name[i])
                i += 1
            else:
                word.append(c)
    if quote:
        return None
    if in_word:
        words.append("".join(word))
    return words


class SharedFiles:
    """The shared config and credentials files named by ``env`` (read lazily, memoised).

    ``profiles`` is botocore's ``session.full_config["profiles"]``: config-file profiles with
    the credentials file's sections merged over them key by key.
    """

    __slots__ = (
        "_config",
        "_credentials",
        "_profiles",
        "_services",
        "_sso_sessions",
        "config_path",
        "credentials_path",
    )

    def __init__(self, env: Mapping[str, str]) -> None:
        self.config_path = expand_path(env.get("AWS_CONFIG_FILE") or "~/.aws/config", env)
        self.credentials_path = expand_path(
            env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials", env
        )
        self._config: Sections | None = None
        self._credentials: Sections | None = None
        self._profiles: Sections | None = None
        self._sso_sessions: Sections = {}
        self._services: Sections = {}

    def credentials_sections(self) -> Sections:
        """The credentials file's sections: each section name is a profile name."""
        if self._credentials is None:
            self._credentials = read_ini(self.credentials_path) or {}
        return self._credentials

    def _load_config(self) -> None:
        raw = read_ini(self.config_path) or {}
        config_profiles: Sections = {}
        # botocore.configloader.build_profile_map, in file order: a later [default] or
        # [profile default] replaces an earlier one wholesale.
        for name, values in raw.items():
            target: Sections | None = None
            if name.startswith("profile"):
                target = config_profiles
            elif name.startswith("sso-session"):
                target = self._sso_sessions
            elif name.startswith("services"):
                target = self._services
            elif name == "default":
                config_profiles["default"] = values
                continue
            if target is not None:
                words = _section_words(name)
                if words is not None and len(words) == 2:
                    target[words[1]] = values
        self._config = config_profiles

    def config_profiles(self) -> Sections:
        """Profiles defined in the config file only (botocore's ConfigProvider reads these)."""
        if self._config is None:
            self._load_config()
        assert self._config is not None
        return self._config

    def profiles(self) -> Sections:
        """Every profile, config file and credentials file merged (credentials win per key)."""
        if self._profiles is None:
            merged = {name: dict(values) for name, values in self.config_profiles().items()}
            for name, values in self.credentials_sections().items():
                merged.setdefault(name, {}).update(values)
            self._profiles = merged
        return self._profiles

    def sso_session(self, name: str) -> Section | None:
        """The ``[sso-session NAME]`` section."""
        self.config_profiles()
        return self._sso_sessions.get(name)

    def services(self, name: str) -> Section | None:
        """The ``[services NAME]`` section (per-service endpoint overrides)."""
        self.config_profiles()
        return self._services.get(name)

    def display(self, path: str, env: Mapping[str, str]) -> str:
        """``path`` with the home folder shown as ``~`` (for messages)."""
        home = expand_path("~", env)
        if home and home != "/" and path.startswith(home.rstrip("/") + "/"):
            return "~" + path[len(home.rstrip("/")) :]
        return path


def ec2_credential_file(env: Mapping[str, str]) -> tuple[str, dict[str, str]] | None:
    """``AWS_CREDENTIAL_FILE`` (the EC2 API tools' ``key=value`` format, which botocore still
    reads): (path, pairs), None when unset. Unreadable is an error, as in botocore."""
    if "AWS_CREDENTIAL_FILE" not in env:
        return None
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
    return path, pairs


def boto_credentials(env: Mapping[str, str]) -> tuple[str, Section] | None:
    """The ``[Credentials]`` section of boto2's config (``BOTO_CONFIG``, else /etc/boto.cfg
    and ~/.boto) that has a key id: (path as configured, section), else None."""
    boto = env.get("BOTO_CONFIG")
    for path in [boto] if boto is not None else ["/etc/boto.cfg", "~/.boto"]:
        try:
            sections = read_ini(expand_path(path, env))
        except CredentialsError:
            continue  # a broken legacy file must not block the chain's later links
        creds = (sections or {}).get("Credentials", {})
        if "aws_access_key_id" in creds:
            return path, creds
    return None

