"""Write credhelper/_models/ (see credhelper/botocore_models.py) from the installed botocore.

Run after every botocore upgrade: ``.venv/bin/python scripts/gen_botocore_models.py``
(``--out DIR`` writes elsewhere). The shipped files are used only with the botocore version
recorded in their manifest; tests/test_botocore_models.py fails when they differ from what this
script makes of the installed botocore.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore
from botocore.loaders import Loader

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from credhelper.botocore_models import MANIFEST, MODELS_DIR, OPERATIONS  # noqa: E402


def _shape_refs(node: Any) -> Iterator[str]:
    """Every shape name a shape or operation definition refers to (``{"shape": name}``)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "shape" and isinstance(value, str):
                yield value
            else:
                yield from _shape_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _shape_refs(item)


def trim_service(model: dict[str, Any], operations: tuple[str, ...]) -> dict[str, Any]:
    """``model`` with only ``operations``, the shapes they reach and every modeled exception
    (and what those reach); every other key and all order as botocore ships them."""
    missing = [op for op in operations if op not in model["operations"]]
    if missing:
        raise SystemExit(f"{model['metadata']['endpointPrefix']}: no operation {missing}")
    ops = {name: op for name, op in model["operations"].items() if name in operations}
    shapes = model["shapes"]
    wanted: set[str] = set()
    todo = list(_shape_refs(ops))
    todo += [name for name, shape in shapes.items() if shape.get("exception")]
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(_shape_refs(shapes[name]))
    out = dict(model)
    out["operations"] = ops
    out["shapes"] = {name: shape for name, shape in shapes.items() if name in wanted}
    return out


def trim_endpoints(endpoints: dict[str, Any], keep: set[str]) -> dict[str, Any]:
    """``endpoints.json`` with each partition's ``services`` cut to ``keep``."""
    out = dict(endpoints)
    out["partitions"] = [
        {**p, "services": {k: v for k, v in p["services"].items() if k in keep}}
        for p in endpoints["partitions"]
    ]
    return out


def _write(path: Path, doc: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def generate(out: Path) -> None:
    """Write the trimmed files and the manifest into ``out`` (emptied first)."""
    # botocore's own files only: nothing from ~/.aws/models or AWS_DATA_PATH
    builtin = [Loader.BUILTIN_DATA_PATH]
    loader = Loader(include_default_search_paths=False, extra_search_paths=builtin)
    if out.exists():
        shutil.rmtree(out)
    services: dict[str, str] = {}
    keep: set[str] = set()
    for name, operations in OPERATIONS.items():
        version = loader.determine_latest_version(name, "service-2")
        model = loader.load_data(f"{name}/{version}/service-2")
        _write(out / name / version / "service-2.json", trim_service(model, operations))
        rules = loader.load_data(f"{name}/{version}/endpoint-rule-set-1")
        _write(out / name / version / "endpoint-rule-set-1.json", rules)
        services[name] = version
        keep |= {name, model["metadata"]["endpointPrefix"]}
    _write(out / "endpoints.json", trim_endpoints(loader.load_data("endpoints"), keep))
    _write(out / MANIFEST, {"botocore": botocore.__version__, "services": services})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=MODELS_DIR, help="folder to write (default: %(default)s)")
    args = parser.parse_args(argv)
    generate(Path(args.out))
    print(f"wrote {os.path.relpath(args.out)} from botocore {botocore.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
