"""Deterministic source bundles for Cloud Functions.

The bundle of ``functions/<name>/`` is a zip whose bytes depend only on the sorted paths and
contents of the files it holds, so the object name (which carries the content hash) changes
when, and only when, the code it ships changes: a code change redeploys the functions that
ship it and nothing else does.

The zip holds each file at the path it has under the repository root, so the function
imports its own modules and the shared package by the same absolute names in the repository,
in tests and in the deployed function (the runtime puts the zip root on ``sys.path``):

    main.py, requirements.txt        the two files the runtime reads at the zip root
    functions/__init__.py
    functions/<name>/...             the function's own package, all but those two files
    functions/_shared/...            code every function ships (``SHARED_PACKAGE``)

The package files and the shared package are taken from the folder that holds
``functions/<name>/`` (``functions/`` itself, or a copy of it), when they are there.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.paths import FUNCTIONS_DIR

# Folders and files that never ship: caches, local environments and the function's tests.
EXCLUDED_DIRS = frozenset({"__pycache__", ".venv", "venv", "tests", ".pytest_cache", ".ruff_cache"})
EXCLUDED_SUFFIXES = (".pyc", ".pyo")
EXCLUDED_NAMES = frozenset({".DS_Store"})
# The runtime reads these at the zip root; every other file keeps its repository path.
ROOT_FILES = frozenset({"main.py", "requirements.txt"})
PACKAGE_ROOT = "functions"
SHARED_PACKAGE = "_shared"
# A fixed timestamp and mode so the zip bytes do not depend on the checkout.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644 << 16


@dataclass(frozen=True)
class Bundle:
    """A built function bundle.

    ``sha256`` is the hash over sorted paths and contents; ``object_name`` is the GCS
    object name holding the first 16 hex digits of it.
    """

    name: str
    path: Path
    sha256: str
    files: tuple[str, ...]

    @property
    def object_name(self) -> str:
        return f"functions/{self.name}-{self.sha256[:16]}.zip"


def _shipped(source_dir: Path) -> list[tuple[str, Path]]:
    """``(path relative to source_dir, absolute path)`` of its files that ship."""
    entries: list[tuple[str, Path]] = []
    for path in source_dir.rglob("*"):
        rel = path.relative_to(source_dir)
        if any(part in EXCLUDED_DIRS for part in rel.parts):
            continue
        if not path.is_file() or path.name in EXCLUDED_NAMES:
            continue
        if path.name.startswith("test_") or path.suffix in EXCLUDED_SUFFIXES:
            continue
        entries.append((rel.as_posix(), path))
    return entries


def bundle_files(source_dir: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(path in the zip, absolute path)`` of the files that ship, sorted by zip path.

    ``source_dir`` is the function's folder; its parent's ``__init__.py`` and
    ``SHARED_PACKAGE`` ship beside it (see the module docstring).
    """
    package = f"{PACKAGE_ROOT}/{source_dir.name}"
    entries = [
        (rel if rel in ROOT_FILES else f"{package}/{rel}", path)
        for rel, path in _shipped(source_dir)
    ]
    init = source_dir.parent / "__init__.py"
    if init.is_file():
        entries.append((f"{PACKAGE_ROOT}/__init__.py", init))
    shared = source_dir.parent / SHARED_PACKAGE
    if shared.is_dir():
        entries += [
            (f"{PACKAGE_ROOT}/{SHARED_PACKAGE}/{rel}", path) for rel, path in _shipped(shared)
        ]
    yield from sorted(entries)


def _digest(files: list[tuple[str, bytes]]) -> str:
    digest = hashlib.sha256()
    for rel, data in files:
        digest.update(rel.encode())
        digest.update(b"\0")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


def _read(source_dir: Path) -> list[tuple[str, bytes]]:
    """``(path in the zip, content)`` of each shipped file, in ``bundle_files`` order."""
    return [(rel, path.read_bytes()) for rel, path in bundle_files(source_dir)]


def content_hash(source_dir: Path) -> str:
    """SHA-256 over each shipped file's zip path and content, in sorted order."""
    return _digest(_read(source_dir))


def build_bundle(name: str, out_dir: Path, source_dir: Path | None = None) -> Bundle:
    """Zip ``functions/<name>/`` (or ``source_dir``) into ``out_dir/<name>-<hash>.zip``.

    The folder is walked and each file read once: the hash, the file list and the zip all
    come from that one read. Raises ``FileNotFoundError`` naming the folder when it is
    missing or has no ``main.py``.
    """
    src = source_dir or FUNCTIONS_DIR / name
    if not (src / "main.py").is_file():
        raise FileNotFoundError(
            f"function {name!r}: {src}/main.py not found; every function folder needs main.py "
            "with its entry point and a requirements.txt"
        )
    shipped = _read(src)
    sha = _digest(shipped)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}-{sha[:16]}.zip"
    if not target.exists():
        tmp = target.with_suffix(".zip.tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for rel, data in shipped:
                info = zipfile.ZipInfo(rel, date_time=ZIP_EPOCH)
                info.external_attr = FILE_MODE
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, data)
        tmp.replace(target)
    return Bundle(name=name, path=target, sha256=sha, files=tuple(rel for rel, _ in shipped))
