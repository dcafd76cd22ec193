"""Which policy type denied a request, read from AWS's AccessDenied message.

IAM User Guide, "Troubleshoot access denied error messages" (troubleshoot_access-denied.html),
"Access denied error message examples": most messages read ``User: USER is not authorized to
perform: ACTION on resource: RESOURCE because CONTEXT``; an explicit deny adds ``with an
explicit deny in a TYPE policy`` and an implicit deny ``because no TYPE policy allows the
ACTION action``. The page's examples name these types: service control policy, resource
control policy, VPC endpoint policy, permissions boundary, session policy (one example spells
it "sessions policy"), resource-based policy, role trust policy and identity-based policy. The
same page notes that some services do not use this format, and that an SCP denial may say
"explicit deny" even when it is implicit — so the *type* is trusted, not the explicit/implicit
word, for SCPs.

No I/O, no imports beyond the standard library: the prober calls it on every denial."""

from __future__ import annotations

from dataclasses import dataclass

# (phrase in the message, short name) — longest first so "resource control policy" is not
# read as "resource-based".
POLICY_TYPES: tuple[tuple[str, str], ...] = (
    ("service control policy", "scp"),
    ("resource control policy", "rcp"),
    ("vpc endpoint policy", "vpce"),
    ("permissions boundary", "boundary"),
    ("sessions policy", "session"),
    ("session policy", "session"),
    ("resource-based policy", "resource"),
    ("role trust policy", "trust"),
    ("identity-based policy", "identity"),
)

# What to do about a denial, by the type that decided it (who can change that policy).
FIX_BY_TYPE = {
    "scp": "a service control policy (SCP) of your AWS organization denies it: ask your "
    "organization's administrators; no identity policy can lift it",
    "rcp": "a resource control policy (RCP) of the registry's AWS organization denies it: ask "
    "that organization's administrators; no identity or repository policy can lift it",
    "vpce": "the VPC endpoint policy of the interface endpoint you reach ECR through denies it: "
    "ask whoever owns the endpoint (network administrators) to allow it",
    "boundary": "the permissions boundary of your user/role does not allow it: ask your IAM "
    "administrators to widen the boundary; adding identity policies will not help",
    "session": "the session policy passed when these credentials were issued (AssumeRole / "
    "GetFederationToken Policy or PolicyArns) does not allow it: widen or drop the session "
    "policy where the role is assumed (e.g. your CI's role settings)",
    "resource": "the repository policy does not allow it: the registry owner must change the "
    "repository policy",
    "trust": "the role's trust policy does not allow it: ask the role's owner",
    "identity": "your identity policies do not allow it: add the statement below",
}

NAMES = {
    "scp": "service control policy",
    "rcp": "resource control policy",
    "vpce": "VPC endpoint policy",
    "boundary": "permissions boundary",
    "session": "session policy",
    "resource": "resource-based policy (the repository policy)",
    "trust": "role trust policy",
    "identity": "identity-based policy",
}


@dataclass(frozen=True)
class Denial:
    """``policy_type``: short name (``scp``, ``identity``...) or None when the message does not
    say; ``explicit``: True for "with an explicit deny", False for "because no ... allows",
    None when not said."""

    policy_type: str | None
    explicit: bool | None

    def describe(self) -> str:
        """``with an explicit deny in a service control policy`` and the like, or ""."""
        if self.policy_type is None:
            return ""
        name = NAMES[self.policy_type]
        if self.explicit:
            article = "an" if name[0] in "aeiou" else "a"
            return f"an explicit deny in {article} {name}"
        return f"no {name} allows it" if self.explicit is False else f"denied by a {name}"


def parse(message: str) -> Denial:
    """Read the deciding policy type from an AccessDenied message (see the module doc)."""
    text = " ".join(message.lower().split())
    for marker, explicit in (("with an explicit deny in ", True), ("because no ", False)):
        at = text.find(marker)
        if at < 0:
            continue
        rest = text[at + len(marker) :]
        for phrase, name in POLICY_TYPES:
            # "in a/an/the TYPE" (explicit) or "no TYPE allows" (implicit)
            stripped = rest
            for article in ("a ", "an ", "the "):
                if stripped.startswith(article):
                    stripped = stripped[len(article) :]
                    break
            if stripped.startswith(phrase):
                return Denial(name, explicit)
    return Denial(None, None)
