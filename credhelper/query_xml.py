"""The AWS query protocol without botocore, for the IAM calls the pre-flight makes: the request
form (``serialize``) and the XML answer read as botocore's ``QueryParser`` (plus its
``json_decode_policies`` handler) reads it (``parse_result``).

botocore types every element through the service model; loading IAM's costs ~50 ms. The IAM
outputs these calls read (GetUser, GetRole, the List*/Get* policy calls, GetPolicy,
GetPolicyVersion, SimulatePrincipalPolicy) use each element name with one type only, so a table
of names does the model's work here: structures, lists (``member`` items: strings or
structures), the one map (``entry`` with ``key``/``value``), booleans, integers and the
URL-encoded policy documents; every other name is a string. Timestamps stay the strings IAM sent
(nothing reads them). ``tests/test_query_xml.py`` holds the table to botocore's IAM model and
the parser to botocore's on moto's and recorded AWS answers.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import xml.etree.ElementTree as ET
    from collections.abc import Mapping
    from typing import Any

LISTS = frozenset(
    {
        "AttachedPolicies",
        "EvaluationResults",
        "Groups",
        "MatchedStatements",
        "MissingContextValues",
        "PolicyNames",
        "ResourceSpecificResults",
        "Tags",
    }
)
# The lists whose items are strings; every other list's items are structures.
STRING_LISTS = frozenset({"MissingContextValues", "PolicyNames"})
STRUCTURES = frozenset(
    {
        "EndPosition",
        "OrganizationsDecisionDetail",
        "PermissionsBoundary",
        "PermissionsBoundaryDecisionDetail",
        "Policy",
        "PolicyVersion",
        "Role",
        "RoleLastUsed",
        "SourceRoleTemplate",
        "StartPosition",
        "User",
    }
)
MAPS = frozenset({"EvalDecisionDetails"})
BOOLEANS = frozenset(
    {
        "AllowedByOrganizations",
        "AllowedByPermissionsBoundary",
        "IsAttachable",
        "IsDefaultVersion",
        "IsTruncated",
    }
)
INTEGERS = frozenset(
    {
        "AttachmentCount",
        "Column",
        "Line",
        "MaxSessionDuration",
        "MaxSigninSessionDuration",
        "PermissionsBoundaryUsageCount",
        "TemplateMinorVersion",
    }
)
# IAM's ``policyDocumentType`` members: URL-encoded JSON, which botocore decodes to a dict.
POLICY_DOCUMENTS = frozenset({"AssumeRolePolicyDocument", "Document", "PolicyDocument"})


def serialize(operation: str, version: str, params: Mapping[str, Any]) -> bytes:
    """The form body botocore's ``QuerySerializer`` sends: ``Action``, ``Version``, then each
    parameter flattened (``A.member.1``, ``A.B``; booleans as ``true``/``false``)."""
    from urllib.parse import urlencode

    form: list[tuple[str, str]] = [("Action", operation), ("Version", version)]
    for name, value in params.items():
        _flatten(name, value, form)
    return urlencode(form).encode()


def _flatten(prefix: str, value: object, form: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _flatten(f"{prefix}.{name}", item, form)
    elif isinstance(value, (list, tuple)):
        if not value:
            form.append((prefix, ""))  # botocore sends an empty list as an empty value
        for index, item in enumerate(value, 1):
            _flatten(f"{prefix}.member.{index}", item, form)
    elif isinstance(value, bool):
        form.append((prefix, "true" if value else "false"))
    else:
        form.append((prefix, str(value)))


def parse_result(root: ET.Element, operation: str) -> dict[str, Any]:
    """``<OperationResponse><OperationResult>`` as botocore parses it (without
    ``ResponseMetadata``); ``{}`` when there is no result element."""
    for child in root:
        if _tag(child) == f"{operation}Result":
            parsed = _structure(child)
            return parsed if isinstance(parsed, dict) else {}
    return {}


# STS's AssumeRole and AssumeRoleWithWebIdentity outputs (``fast_role``): structures (at any
# depth), one map of strings (``entry`` with ``key``/``value``), integers, every other member a
# string; Expiration stays the timestamp text.
STS_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity"})
STS_STRUCTURES = frozenset(
    {
        "AssumedRoleUser",
        "Credentials",
        "OriginIdentity",
        "TransactionContext",
        "TrustedIdentityPropagationContext",
    }
)
STS_MAPS = frozenset({"IdentityProvider"})
STS_INTEGERS = frozenset({"PackedPolicySize", "SessionTokenSize", "SessionTokenUtilization"})


def parse_sts_result(root: ET.Element, operation: str) -> dict[str, Any]:
    """An AssumeRole* ``<OperationResult>`` as botocore parses it (timestamps as text)."""
    for child in root:
        if _tag(child) == f"{operation}Result":
            return _sts_structure(child)
    return {}


def _sts_structure(element: ET.Element) -> dict[str, Any]:
    answer: dict[str, Any] = {}
    for member in element:
        name = _tag(member)
        if name in STS_STRUCTURES:
            answer[name] = _sts_structure(member)
        elif name in STS_MAPS:
            found: dict[str, Any] = {}
            for entry in member:
                parts = {_tag(part): part.text or "" for part in entry}
                found[parts.get("key", "")] = parts.get("value", "")
            answer[name] = found
        elif name in STS_INTEGERS:
            answer[name] = int(member.text or "")
        else:
            answer[name] = member.text or ""
    return answer


def request_id(root: ET.Element) -> str | None:
    """``ResponseMetadata/RequestId``, which botocore puts in its ``ResponseMetadata``."""
    for child in root:
        if _tag(child) == "ResponseMetadata":
            for item in child:
                if _tag(item) == "RequestId":
                    return item.text or ""
    return None


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _structure(element: ET.Element) -> dict[str, Any]:
    return {_tag(child): _value(_tag(child), child) for child in element}


def _value(name: str, element: ET.Element) -> Any:
    if name in LISTS:
        items = [item for item in element if _tag(item) == "member"]
        if name in STRING_LISTS:
            return [item.text or "" for item in items]
        return [_structure(item) for item in items]
    if name in MAPS:
        found: dict[str, Any] = {}
        for entry in element:
            if _tag(entry) == "entry":
                parts = {_tag(part): part.text or "" for part in entry}
                found[parts.get("key", "")] = parts.get("value", "")
        return found
    text = element.text or ""
    if name in BOOLEANS:
        return text == "true"
    if name in INTEGERS:
        return int(text)
    if name in POLICY_DOCUMENTS:
        return _policy_document(text)
    if name in STRUCTURES:
        return _structure(element)
    return text


def _policy_document(text: str) -> Any:
    """botocore's ``decode_quoted_jsondoc``: the URL-decoded JSON, or the text unchanged."""
    import json
    from urllib.parse import unquote

    try:
        return json.loads(unquote(text))
    except (ValueError, TypeError):
        return text
