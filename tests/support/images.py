"""Tiny images built without a daemon or network.

* :func:`make_tiny_image_tar` - a rootfs tarball for ``docker import``.
* :func:`make_oci_layout` - an OCI image layout that ``skopeo copy oci:DIR:TAG docker://...``
  pushes. Written by hand rather than with umoci: it is a handful of JSON files and one
  gzipped tar, this way it is deterministic for a given seed and needs no external tool.

Contents are derived from ``seed`` so two images with different seeds never share a layer
(tests about blob dedup or layer upload need that) and one seed always gives the same digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
# A fixed mtime keeps layers byte-identical between runs.
EPOCH = 1_700_000_000


def _payload(seed: str, size: int) -> bytes:
    """``size`` pseudo-random bytes from ``seed`` (incompressible, like real layers)."""
    out = bytearray()
    counter = 0
    while len(out) < size:
        out += hashlib.sha256(f"{seed}:{counter}".encode()).digest()
        counter += 1
    return bytes(out[:size])


def _rootfs_tar(seed: str, size_bytes: int) -> bytes:
    files = {
        "hello.txt": f"hello from ecrpy tests ({seed})\n".encode(),
        "payload.bin": _payload(seed, size_bytes),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = EPOCH
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_tiny_image_tar(
    path: str | os.PathLike[str], size_bytes: int = 1024, seed: str | None = None
) -> Path:
    """Write a rootfs tar (``hello.txt`` and ``payload.bin`` of ``size_bytes``) to ``path``."""
    seed = seed if seed is not None else os.urandom(8).hex()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(_rootfs_tar(seed, size_bytes))
    return out


class OciImage:
    """What :func:`make_oci_layout` wrote: the layout dir and the digests a test may check."""

    __slots__ = ("config_digest", "layer_digest", "layout", "manifest_digest", "tag")

    def __init__(
        self, layout: Path, tag: str, manifest_digest: str, config_digest: str, layer_digest: str
    ) -> None:
        self.layout = layout
        self.tag = tag
        self.manifest_digest = manifest_digest
        self.config_digest = config_digest
        self.layer_digest = layer_digest

    @property
    def ref(self) -> str:
        """The skopeo source reference, ``oci:DIR:TAG``."""
        return f"oci:{self.layout}:{self.tag}"

    def __repr__(self) -> str:
        return f"OciImage({self.ref!r}, {self.manifest_digest})"


def _write_blob(blobs: Path, data: bytes) -> str:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}"


def make_oci_layout(
    directory: str | os.PathLike[str],
    tag: str = "v1",
    size_bytes: int = 1024,
    seed: str | None = None,
) -> OciImage:
    """Write a one-layer linux/amd64 OCI image layout into ``directory`` under ``tag``.

    Adding a second tag to an existing layout is not supported (index.json is rewritten).
    """
    seed = seed if seed is not None else os.urandom(8).hex()
    root = Path(directory)
    blobs = root / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    layer_tar = _rootfs_tar(seed, size_bytes)
    # mtime=0 in the gzip header, so the compressed digest is reproducible too.
    layer_gz = gzip.compress(layer_tar, mtime=0)
    layer_digest = _write_blob(blobs, layer_gz)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/hello.txt"], "Labels": {"org.ecrpy.test-seed": seed}},
        "rootfs": {
            "type": "layers",
            "diff_ids": [f"sha256:{hashlib.sha256(layer_tar).hexdigest()}"],
        },
        "history": [{"created_by": "tests.support.images", "created": "2023-11-14T22:13:20Z"}],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest = _write_blob(blobs, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": layer_digest, "size": len(layer_gz)}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest = _write_blob(blobs, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": len(manifest_bytes),
                "platform": {"architecture": "amd64", "os": "linux"},
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (root / "index.json").write_text(json.dumps(index, indent=2))
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    return OciImage(root, tag, manifest_digest, config_digest, layer_digest)


def make_big_image_tar(path: str | os.PathLike[str], size_bytes: int) -> Path:
    """Write a rootfs tar holding ``payload.bin`` of ``size_bytes`` random bytes, streamed to
    disk in 1 MiB pieces (a real-size image without holding it in memory twice). Random, so
    gzip cannot shrink what a push or pull has to move: the layer is as big as the file."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("payload.bin")
        info.size = size_bytes
        info.mode = 0o644
        info.mtime = EPOCH
        tar.addfile(info, _RandomStream(size_bytes))
    return out


class _RandomStream(io.RawIOBase):
    """``size`` bytes of ``os.urandom``, read in pieces."""

    def __init__(self, size: int) -> None:
        self._left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left, 1 << 20)
        self._left -= n
        return os.urandom(n)
