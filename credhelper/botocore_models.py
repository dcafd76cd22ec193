"""Trimmed botocore models for the token fetch: botocore's own ``Loader``, fewer files to read.

A botocore client normally costs a cold ``get`` ~70 ms before its first request: the 1.2 MB
``endpoints.json`` is parsed (~30 ms), ``list_available_services`` lists every one of ~400
service folders once per model type (~25 ms, ~35 with STS), and the whole ECR/STS models are
unzipped and parsed. The token fetch needs one ECR (or ECR Public) operation and the STS/SSO
calls botocore's credential providers make, so ``credhelper/_models/`` ships exact extracts of
the installed botocore's files, written by ``scripts/gen_botocore_models.py``:

* ``<service>/<api-version>/service-2.json``: the operations in ``OPERATIONS``, every shape
  they reach, and every modeled exception (so error classes are the same as with the full
  model); the metadata verbatim;
* ``<service>/<api-version>/endpoint-rule-set-1.json``: the endpoint rule set, verbatim;
* ``endpoints.json``: every partition verbatim, its ``services`` cut to these services.

``TrimmedLoader`` is a botocore ``Loader`` that looks in that folder first and answers those
services' models without walking the service folders; everything else (other services, other
model types, ``_retry``, ``partitions``...) comes from botocore's own folders as usual. Its
``endpoints.json`` counts as built-in data, as the file it was cut from does (otherwise
botocore would hand the legacy endpoint to the rule set as a custom endpoint).

Correctness first: ``trimmed_loader`` answers None, and the caller keeps botocore's stock
loader, unless the files were generated from the installed botocore version exactly, and
whenever the user adds models of their own (``AWS_DATA_PATH``/``data_path``, ``~/.aws/models``),
which must keep winning. Only the token fetch's session uses it: its clients call nothing else.
Cold: imports botocore inside functions.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from botocore.loaders import Loader
    from botocore.session import Session as CoreSession

__all__ = ["MODELS_DIR", "OPERATIONS", "install", "manifest", "trimmed_loader"]

MODELS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_models")
MANIFEST = "manifest.json"
# The model types served from MODELS_DIR; any other type is botocore's own.
MODEL_TYPES = ("service-2", "endpoint-rule-set-1")
# What the token fetch's session calls: GetAuthorizationToken, and what botocore's credential
# providers call (AssumeRoleCredentialFetcher, AssumeRoleWithWebIdentityCredentialFetcher,
# SSOCredentialFetcher); GetCallerIdentity for callers that ask who the session is.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "ecr": ("GetAuthorizationToken",),
    "ecr-public": ("GetAuthorizationToken",),
    "sts": ("AssumeRole", "AssumeRoleWithWebIdentity", "GetCallerIdentity"),
    "sso": ("GetRoleCredentials",),
}


def manifest(models_dir: str = MODELS_DIR) -> dict[str, object] | None:
    """The shipped files' manifest: ``{"botocore": version, "services": {name: api
    version}}``, or None when it is missing or damaged."""
    import json

    try:
        with open(os.path.join(models_dir, MANIFEST), encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    services = doc.get("services")
    if not isinstance(doc.get("botocore"), str) or not isinstance(services, dict):
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in services.items()):
        return None
    return doc


def trimmed_loader(core: CoreSession, models_dir: str = MODELS_DIR) -> Loader | None:
    """A ``TrimmedLoader`` for ``core``, or None: use botocore's stock loader (the files were
    made from another botocore version or are damaged, or the user has models of their own)."""
    import botocore
    from botocore.loaders import Loader

    if core.get_config_variable("data_path"):  # AWS_DATA_PATH / data_path: theirs win
        return None
    if os.path.isdir(Loader.CUSTOMER_DATA_PATH):  # ~/.aws/models: theirs win
        return None
    doc = manifest(models_dir)
    if doc is None or doc["botocore"] != botocore.__version__:
        return None
    services = doc["services"]
    if not isinstance(services, dict):  # pragma: no cover - manifest() checked it
        return None
    make: Any = _loader_class()  # (models_dir, services): not Loader's own signature
    loader: Loader = make(models_dir, dict(services))
    return loader


def install(core: CoreSession, models_dir: str = MODELS_DIR) -> bool:
    """Give ``core`` the trimmed loader when it may have it; True when it was installed.
    Call before anything in ``core`` has loaded a model."""
    loader = trimmed_loader(core, models_dir)
    if loader is None:
        return False
    core.register_component("data_loader", loader)
    return True


_CLASS: type[Loader] | None = None


def _loader_class() -> type[Loader]:
    """``TrimmedLoader``, defined on first use (botocore is imported only on a cache miss)."""
    global _CLASS
    if _CLASS is not None:
        return _CLASS
    from botocore.loaders import Loader, instance_cache

    class TrimmedLoader(Loader):
        """botocore's Loader with ``models_dir`` searched first and its services' models
        found without listing every service folder."""

        def __init__(self, models_dir: str, services: dict[str, str]) -> None:
            super().__init__(extra_search_paths=[models_dir])
            self._models_dir = os.path.join(models_dir, "")
            self._trimmed = services  # service name -> API version of the shipped files

        @instance_cache
        def load_service_model(
            self, service_name: str, type_name: str, api_version: str | None = None
        ) -> Any:
            version = self._trimmed.get(service_name)
            if version is None or type_name not in MODEL_TYPES or api_version not in (
                None,
                version,
            ):
                return super().load_service_model(service_name, type_name, api_version)
            # The stock method, less list_available_services/determine_latest_version: the
            # shipped files are the latest version the installed botocore has (generated so).
            model = self.load_data(f"{service_name}/{version}/{type_name}")
            stock: Any = self  # botocore's private helpers, which its stubs leave out
            extras = stock._find_extras(service_name, type_name, version)
            stock._extras_processor.process(model, extras)
            return model

        def is_builtin_path(self, path: str) -> bool:
            # Cut from botocore's endpoints.json of this very version: built-in data.
            return super().is_builtin_path(path) or os.path.expanduser(path).startswith(
                self._models_dir
            )

    _CLASS = TrimmedLoader
    return _CLASS
