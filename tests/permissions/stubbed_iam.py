"""botocore's Stubber over real IAM, STS and ECR clients, in the shapes IAM answers.

Stubber checks every request's parameters and every answer against botocore's service model,
so an answer here has the fields real IAM sends (``CreateDate``, ``IsTruncated``, URL-encoded
policy documents that botocore's own handler decodes). Answers are consumed in call order;
``InlineExecutor`` makes the gather's order deterministic (breadth-first over the jobs).
"""

from __future__ import annotations

import datetime
import json
import urllib.parse
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import botocore.session
from botocore.stub import Stubber

ACCOUNT = "123456789012"
CREATED = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)

P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs each submitted call at once on the calling thread: a deterministic call order."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def document(*actions: str, effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": effect, "Action": list(actions), "Resource": "*"}],
    }


def encoded(doc: dict[str, Any]) -> str:
    """How IAM's query protocol sends a document: URL-encoded JSON (RFC 3986)."""
    return urllib.parse.quote(json.dumps(doc))


def policy_arn(name: str) -> str:
    return f"arn:aws:iam::{ACCOUNT}:policy/{name}"


class StubbedAws:
    """Queue IAM/STS answers; ``done()`` fails if one queued answer was never asked for."""

    def __init__(self, clients: dict[str, Any], stubs: dict[str, Stubber]) -> None:
        self.iam, self.sts, self.ecr = clients["iam"], clients["sts"], clients["ecr"]
        self._iam, self._sts, self.ecr_stub = stubs["iam"], stubs["sts"], stubs["ecr"]
        self._stubs = stubs

    def done(self) -> None:
        for stub in self._stubs.values():
            stub.assert_no_pending_responses()

    def caller(self, arn: str) -> None:
        answer = {"UserId": "AIDAEXAMPLE", "Account": ACCOUNT, "Arn": arn}
        self._sts.add_response("get_caller_identity", answer, {})

    def get_user(self, user: str, boundary: str | None = None) -> None:
        entity = self._entity("User", user, "/", boundary)
        self._iam.add_response("get_user", {"User": entity}, {"UserName": user})

    def get_role(self, role: str, path: str = "/", boundary: str | None = None) -> None:
        entity = self._entity("Role", role, path, boundary)
        self._iam.add_response("get_role", {"Role": entity}, {"RoleName": role})

    def pages(self, method: str, key: str, pages: list[list[Any]], **params: Any) -> None:
        """A list call answered in ``len(pages)`` pages linked by ``Marker``."""
        for i, items in enumerate(pages):
            answer: dict[str, Any] = {key: items, "IsTruncated": i < len(pages) - 1}
            if answer["IsTruncated"]:
                answer["Marker"] = f"marker-{i + 1}"
            expected = dict(params, Marker=f"marker-{i}") if i else dict(params)
            self._iam.add_response(method, answer, expected)

    def groups(self, user: str, pages: list[list[str]]) -> None:
        entities = [[self._entity("Group", g, "/", None) for g in page] for page in pages]
        self.pages("list_groups_for_user", "Groups", entities, UserName=user)

    def attached(self, kind: str, name: str, pages: list[list[str]]) -> None:
        cap = kind.capitalize()
        items = [[{"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in p] for p in pages]
        params = {f"{cap}Name": name}
        self.pages(f"list_attached_{kind}_policies", "AttachedPolicies", items, **params)

    def inline_names(self, kind: str, name: str, pages: list[list[str]]) -> None:
        self.pages(
            f"list_{kind}_policies", "PolicyNames", pages, **{f"{kind.capitalize()}Name": name}
        )

    def inline_policy(self, kind: str, name: str, policy: str, doc: dict[str, Any] | str) -> None:
        cap = kind.capitalize()
        params = {f"{cap}Name": name, "PolicyName": policy}
        text = doc if isinstance(doc, str) else encoded(doc)
        answer = {**params, "PolicyDocument": text}
        self._iam.add_response(f"get_{kind}_policy", answer, params)

    def get_policy(self, arn: str, default_version: str) -> None:
        answer = {"Policy": {"Arn": arn, "DefaultVersionId": default_version}}
        self._iam.add_response("get_policy", answer, {"PolicyArn": arn})

    def policy_version(self, arn: str, version: str, doc: dict[str, Any], default: bool) -> None:
        version_answer = {
            "Document": encoded(doc),
            "VersionId": version,
            "IsDefaultVersion": default,
        }
        answer = {"PolicyVersion": version_answer}
        self._iam.add_response(
            "get_policy_version", answer, {"PolicyArn": arn, "VersionId": version}
        )

    def iam_answer(self, method: str, answer: dict[str, Any], **params: Any) -> None:
        """An answer as given (e.g. a malformed page)."""
        self._iam.add_response(method, answer, params)

    def iam_error(self, method: str, code: str, status: int = 403, **params: Any) -> None:
        self._iam.add_client_error(
            method, service_error_code=code, http_status_code=status, expected_params=params
        )

    @staticmethod
    def _entity(kind: str, name: str, path: str, boundary: str | None) -> dict[str, Any]:
        lower = kind.lower()
        entity: dict[str, Any] = {
            "Path": path,
            f"{kind}Name": name,
            f"{kind}Id": f"AIDA{kind.upper()}EXAMPLE12345",
            "Arn": f"arn:aws:iam::{ACCOUNT}:{lower}{path}{name}",
            "CreateDate": CREATED,
        }
        if boundary:
            entity["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": boundary,
            }
        return entity


@contextmanager
def stubbed_aws() -> Iterator[StubbedAws]:
    session = botocore.session.Session()
    clients = {
        service: session.create_client(
            service,
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="not-a-secret",  # Stubber never sends a request
        )
        for service in ("iam", "sts", "ecr")
    }
    stubs = {service: Stubber(client) for service, client in clients.items()}
    with stubs["iam"], stubs["sts"], stubs["ecr"]:
        yield StubbedAws(clients, stubs)
