"""Wildcard, ARN and principal matching as IAM does it.

Patterns are sequences of *items*: a one-character ``str`` (a literal character) or a ``Wild``
marker. Keeping literals and wildcards apart lets an escaped ``${*}`` or a substituted policy
variable contain a literal ``*`` that never acts as a wildcard.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal


class Wild(enum.Enum):
    """A wildcard in a pattern: ``*`` (any run of characters) or ``?`` (one character)."""

    STAR = "*"
    ONE = "?"


Item = str | Wild
Pattern = tuple[Item, ...]

# Number of colon-separated ARN fields; the sixth (resource) field may itself contain colons.
ARN_FIELDS = 6


def compile_glob(text: str) -> Pattern:
    """Turn raw policy text into a pattern where every ``*`` and ``?`` is a wildcard."""
    return tuple(Wild.STAR if c == "*" else Wild.ONE if c == "?" else c for c in text)


def literal(text: str) -> Pattern:
    """A pattern that matches ``text`` exactly (``*`` and ``?`` are plain characters)."""
    return tuple(text)


def _lowered(pattern: Sequence[Item]) -> list[Item]:
    # str.lower() can turn one character into two (e.g. 'İ'); re-split so the pattern stays
    # aligned with the lowered text, which grows the same way.
    out: list[Item] = []
    for item in pattern:
        if isinstance(item, Wild):
            out.append(item)
        else:
            out.extend(item.lower())
    return out


def glob_match(pattern: Sequence[Item], text: str, *, ignore_case: bool = False) -> bool:
    """Whether ``text`` matches ``pattern`` in full (``*`` any run, ``?`` exactly one char)."""
    pat: Sequence[Item] = pattern
    if ignore_case:
        pat = _lowered(pattern)
        text = text.lower()
    # Greedy two-pointer matcher with backtracking to the last star: linear in practice and
    # free of the exponential blow-up a naive recursive matcher has on many stars.
    p = t = 0
    star_p = -1
    star_t = 0
    while t < len(text):
        if p < len(pat) and (pat[p] is Wild.ONE or pat[p] == text[t]):
            p += 1
            t += 1
        elif p < len(pat) and pat[p] is Wild.STAR:
            star_p, star_t = p, t
            p += 1
        elif star_p >= 0:
            p = star_p + 1
            star_t += 1
            t = star_t
        else:
            return False
    while p < len(pat) and pat[p] is Wild.STAR:
        p += 1
    return p == len(pat)


def split_arn_pattern(pattern: Sequence[Item]) -> list[list[Item]] | None:
    """Split a pattern into the six ARN fields at literal colons, or None if it has fewer."""
    fields: list[list[Item]] = [[]]
    for item in pattern:
        if item == ":" and len(fields) < ARN_FIELDS:
            fields.append([])
        else:
            fields[-1].append(item)
    return fields if len(fields) == ARN_FIELDS else None


# One step of an ARN pattern: (Wild or None for a literal, the literal character, whether
# the wildcard may match a colon).
_Step = tuple[Wild | None, str, bool]


def _arn_steps(pattern: Sequence[Item]) -> list[_Step]:
    """IAM reference, Resource element: wildcards work "within the individual segments of an
    ARN (the parts separated by colons)", but "if the * wildcard is the last character of a
    resource ARN segment, it can expand to match beyond the colon boundaries". The sixth
    (resource) part may itself contain colons, and its wildcards match them."""
    steps: list[_Step] = []
    colons = 0
    for i, item in enumerate(pattern):
        if isinstance(item, Wild):
            in_resource = colons >= ARN_FIELDS - 1
            ends_segment = i + 1 == len(pattern) or pattern[i + 1] == ":"
            steps.append((item, "", in_resource or (item is Wild.STAR and ends_segment)))
        else:
            if item == ":":
                colons += 1
            steps.append((None, item, False))
    return steps


def _skip_stars(steps: list[_Step], states: set[int]) -> set[int]:
    out = set(states)
    for i in sorted(states):
        while i < len(steps) and steps[i][0] is Wild.STAR:
            i += 1
            out.add(i)
    return out


def _steps_match(steps: list[_Step], text: str) -> bool:
    # A set-of-states walk: len(text) * len(steps) at worst, no backtracking blow-up.
    states = _skip_stars(steps, {0})
    for ch in text:
        nxt: set[int] = set()
        for i in states:
            if i == len(steps):
                continue
            wild, char, spans = steps[i]
            if wild is Wild.STAR:
                if spans or ch != ":":
                    nxt.add(i)
            elif wild is Wild.ONE:
                if spans or ch != ":":
                    nxt.add(i + 1)
            elif char == ch:
                nxt.add(i + 1)
        if not nxt:
            return False
        states = _skip_stars(steps, nxt)
    return len(steps) in states


def resource_match(pattern: Sequence[Item], value: str) -> bool:
    """ARN matching as in the ``Resource`` element (``_arn_steps`` gives the rule): a
    wildcard in the partition, service, region or account part stays in its part unless it
    is a ``*`` that ends the part; wildcards in the resource part match anything."""
    return _steps_match(_arn_steps(pattern), value)


def arn_match(pattern: Sequence[Item], value: str) -> bool:
    """ARN matching as in the ``ArnLike``/``ArnEquals`` condition operators (IAM reference,
    condition operators: "Each of the six colon-delimited components of the ARN is checked
    separately and each can include multi-character match wildcards (*) or single-character
    match wildcards (?)"). A pattern without any colon (``*``) is matched against the whole
    value; one with colons but fewer than six components matches nothing."""
    fields = split_arn_pattern(pattern)
    if fields is None:
        return ":" not in pattern and glob_match(pattern, value)
    parts = value.split(":", ARN_FIELDS - 1)
    if len(parts) != ARN_FIELDS:
        return False
    return all(glob_match(f, v) for f, v in zip(fields, parts, strict=True))


# --- principals -------------------------------------------------------------------------------

PrincipalKind = Literal["root", "user", "role", "assumed-role", "federated-user", "service"]

_ACCOUNT = re.compile(r"^\d{12}$")
_SERVICE = re.compile(r"^[a-z0-9][a-z0-9.-]*\.amazonaws\.com(\.cn)?$")


@dataclass(frozen=True)
class PrincipalId:
    """Who makes a request, parsed from its ARN (or a service principal name)."""

    kind: PrincipalKind
    arn: str
    partition: str = ""
    account: str = ""
    name: str = ""  # user name, role name (also for a role session), or service name
    session: str = ""

    @property
    def role_arn(self) -> str:
        """For a role or role session: the role's ARN (without its path, which a session ARN
        does not carry). Empty otherwise."""
        if self.kind in ("role", "assumed-role"):
            return f"arn:{self.partition}:iam::{self.account}:role/{self.name}"
        return ""

    @property
    def service_linked(self) -> bool:
        """A service-linked role: IAM gives these the path ``/aws-service-role/``. A session ARN
        carries no path, so a session of one is not recognised (and is evaluated like any
        role session: SCPs and RCPs then apply, the conservative reading)."""
        return self.kind == "role" and self.arn.split(":", 5)[5].startswith(
            "role/aws-service-role/"
        )

    def chain(self) -> list[PrincipalId]:
        """The identities AWS may check the request against, outermost first: the account,
        then the role (for a session), then the principal itself (used for NotPrincipal)."""
        if self.kind in ("service", "root"):
            return [self]
        root = PrincipalId(
            "root", f"arn:{self.partition}:iam::{self.account}:root", self.partition, self.account
        )
        out = [root]
        if self.kind == "assumed-role":
            out.append(PrincipalId("role", self.role_arn, self.partition, self.account, self.name))
        out.append(self)
        return out


def parse_principal(text: str) -> PrincipalId:
    """Parse a principal ARN (IAM root/user/role, STS assumed-role or federated-user session)
    or a service principal such as ``ecr.amazonaws.com``. Raises ``ValueError``."""
    if _SERVICE.match(text):
        return PrincipalId("service", text, name=text)
    parts = text.split(":", ARN_FIELDS - 1)
    if len(parts) != ARN_FIELDS or parts[0] != "arn" or not parts[1]:
        raise ValueError(f"{text!r} is not a principal ARN or service principal")
    _, partition, service, _region, account, res = parts
    if not _ACCOUNT.match(account):
        raise ValueError(f"{text!r}: account must be 12 digits")
    segs = res.split("/")
    if service == "iam" and res == "root":
        return PrincipalId("root", text, partition, account)
    if service == "iam" and segs[0] in ("user", "role") and len(segs) >= 2 and segs[-1]:
        kind: PrincipalKind = "user" if segs[0] == "user" else "role"
        return PrincipalId(kind, text, partition, account, segs[-1])
    if service == "sts" and segs[0] == "assumed-role" and len(segs) == 3 and all(segs):
        return PrincipalId("assumed-role", text, partition, account, segs[1], segs[2])
    if service == "sts" and segs[0] == "federated-user" and len(segs) == 2 and segs[1]:
        return PrincipalId("federated-user", text, partition, account, segs[1])
    raise ValueError(f"{text!r} is not an IAM root, user, role or STS session ARN")


# How a resource-policy ``Principal`` names the caller (IAM reference, Policy evaluation logic
# and Principal element): ``direct`` names the caller itself (IAM user ARN, role-session or
# federated-user session ARN, ``*``); ``role`` names the role a session belongs to; ``account``
# names the caller's account, which only delegates to the account's own policies.
Strength = Literal["direct", "role", "account"]


def match_aws_principal(value: str, who: PrincipalId) -> Strength | None:
    """Does one ``Principal: {"AWS": value}`` entry name ``who``, and how (see ``Strength``)?"""
    if who.kind == "service":
        return None
    if value == "*":
        return "direct"
    if _ACCOUNT.match(value):
        if value != who.account:
            return None
        return "direct" if who.kind == "root" else "account"
    try:
        named = parse_principal(value)
    except ValueError:
        return None
    if named.partition != who.partition or named.account != who.account:
        return None
    if named.kind == "root":
        return "direct" if who.kind == "root" else "account"
    if named.kind == "role" and who.kind in ("role", "assumed-role"):
        # Role names are unique within an account whatever their path, and a session ARN has
        # no path, so the name identifies the role.
        # A role acts only through its sessions: a grant to the role ARN is the "role" kind
        # whether the caller is given as the role or as one of its sessions.
        return "role" if named.name == who.name else None
    if named.kind == who.kind and named.kind != "role" and named.arn == who.arn:
        return "direct"
    return None


def names_exactly(value: str, link: PrincipalId) -> bool:
    """Whether a ``NotPrincipal`` entry lists this one identity of a request's chain.

    Unlike ``Principal``, an account entry here names only the account principal, not every
    identity in it (IAM reference: list a user *and* its account to exclude the user); a
    role ARN names the role and its sessions.
    """
    if value == "*":
        return True
    if link.kind == "service":
        return False
    if _ACCOUNT.match(value):
        return link.kind == "root" and value == link.account
    try:
        named = parse_principal(value)
    except ValueError:
        return False
    if (named.partition, named.account) != (link.partition, link.account):
        return False
    if named.kind == "role":
        return link.kind in ("role", "assumed-role") and named.name == link.name
    return named.kind == link.kind and named.arn == link.arn
