"""A per-user on-disk cache of finished flow runs' data, shared by every process of the user.

Layout: `<root>/v1/<server>/<flow run id>/<blob>`, `<server>` a hash of the API URL (its
account and workspace included), so servers never mix; no credential is ever written. Each
blob is one file: a header line (the flow run's `updated` time and state id it was read
under, the payload's SHA-256 and kind) and the payload (JSON, or a frame as Arrow IPC).
A blob is used only when its header matches the flow run as read now and its checksum
holds: a run changed since (retried from the UI, a state forced) drops its whole entry;
a truncated or garbled file is dropped alone. Either way the caller reads the server.

Writes go to a temporary file renamed into place under one lock file (`filelock`), which
also guards eviction: least recently used blobs go first once the cache passes its size
bound. Directories are 0700, files 0600. A cache that cannot be written (a full or
read-only disk) only costs speed: views never fail because of it.

Settings: `PREFECT_WIDGETS_CACHE=0` turns it off, `PREFECT_WIDGETS_CACHE_DIR` moves it
(default: the platform's user cache directory), `PREFECT_WIDGETS_CACHE_MAX_BYTES` bounds it
(default 1 GiB), `PREFECT_WIDGETS_CACHE_SETTLE_SECONDS` is the wait after a run's end before
its data is admitted (default 30 s).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .errors import ConfigurationError

__all__ = ["RunCache", "RunEntry", "CacheInfo", "disk_cache", "server_key", "settle_seconds",
           "DEFAULT_MAX_BYTES", "DEFAULT_SETTLE_SECONDS"]

DEFAULT_MAX_BYTES = 1 << 30
#: how long after a flow run's end its data is first admitted (late task-run rows and logs)
DEFAULT_SETTLE_SECONDS = 30.0
_FORMAT = 1
_HEADER_LIMIT = 4096
_TMP_PREFIX = ".tmp-"
_OFF = {"0", "false", "no", "off"}


def server_key(api_url: str) -> str:
    """The directory name of a server: a hash of its API URL (scheme and host lower-cased,
    no trailing '/'); Cloud URLs carry the account and workspace, so each has its own."""
    scheme, _, rest = api_url.strip().rstrip("/").partition("://")
    host, slash, path = rest.partition("/")
    normal = f"{scheme.lower()}://{host.lower()}{slash}{path}"
    return hashlib.sha256(normal.encode()).hexdigest()[:32]


def disk_cache(enabled: bool | None = None) -> RunCache | None:
    """The cache the environment configures, or None when it is turned off (`enabled=False`,
    or `PREFECT_WIDGETS_CACHE=0` when `enabled` is None)."""
    if enabled is False:
        return None
    if enabled is None and os.environ.get("PREFECT_WIDGETS_CACHE", "1").strip().lower() in _OFF:
        return None
    return RunCache.from_env()


def settle_seconds() -> float:
    """The settle window: `PREFECT_WIDGETS_CACHE_SETTLE_SECONDS`, else 30 s."""
    raw = os.environ.get("PREFECT_WIDGETS_CACHE_SETTLE_SECONDS", "").strip()
    try:
        value = float(raw) if raw else DEFAULT_SETTLE_SECONDS
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise ConfigurationError(
            f"PREFECT_WIDGETS_CACHE_SETTLE_SECONDS must be a number of seconds (0 or more), "
            f"got {raw[:40]!r}; unset it for the default of 30 s.")
    return value


@dataclass(frozen=True)
class CacheInfo:
    """What the cache holds: its directory, bound, size, servers, runs and files."""

    path: Path
    max_bytes: int
    bytes: int
    servers: int
    runs: int
    files: int


class RunCache:
    """The cache directory: entries by server and flow run, the size bound, the lock."""

    def __init__(self, root: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.base = self.root / f"v{_FORMAT}"

    @classmethod
    def from_env(cls) -> RunCache:
        """The cache at `PREFECT_WIDGETS_CACHE_DIR` (else the user cache directory), bounded
        by `PREFECT_WIDGETS_CACHE_MAX_BYTES` (else 1 GiB)."""
        root = os.environ.get("PREFECT_WIDGETS_CACHE_DIR", "").strip()
        if not root:
            import platformdirs

            root = platformdirs.user_cache_dir("prefect-widgets", appauthor=False)
        raw = os.environ.get("PREFECT_WIDGETS_CACHE_MAX_BYTES", "").strip()
        try:
            max_bytes = int(raw) if raw else DEFAULT_MAX_BYTES
        except ValueError:
            max_bytes = -1
        if max_bytes < 0:
            raise ConfigurationError(
                f"PREFECT_WIDGETS_CACHE_MAX_BYTES must be a whole number of bytes (0 or more), "
                f"got {raw[:40]!r}; unset it for the default of 1 GiB.")
        return cls(root, max_bytes)

    def entry(self, api_url: str, flow_run_id: str, updated: str, state_id: str) -> RunEntry:
        """The entry of one flow run of one server, valid for this `updated` and `state_id`."""
        return RunEntry(self, self.base / server_key(api_url) / flow_run_id,
                        {"run": flow_run_id, "updated": updated, "state_id": state_id})

    # ---- maintenance

    def info(self) -> CacheInfo:
        servers = runs = files = size = 0
        for server in _subdirs(self.base):
            servers += 1
            for run in _subdirs(server):
                runs += 1
                for blob in _files(run):
                    files += 1
                    size += blob.stat().st_size
        return CacheInfo(self.root, self.max_bytes, size, servers, runs, files)

    def clear(self) -> int:
        """Delete every entry; the number of bytes freed."""
        freed = self.info().bytes
        with self._locked():
            shutil.rmtree(self.base, ignore_errors=True)
        return freed

    def _locked(self) -> Any:
        import filelock

        _private_dir(self.root)
        return filelock.FileLock(str(self.root / ".lock"), timeout=30, mode=0o600)

    def _evict(self, keep: Path) -> None:
        """Delete least recently used blobs (and stale temporary files) until the cache fits
        its bound; `keep`, just written, goes last. Called with the lock held."""
        blobs: list[tuple[float, int, Path]] = []
        total = 0
        stale = time.time() - 3600
        for server in _subdirs(self.base):
            for run in _subdirs(server):
                for blob in _files(run, temporary=True):
                    with contextlib.suppress(OSError):
                        stat = blob.stat()
                        if blob.name.startswith(_TMP_PREFIX):
                            if stat.st_mtime < stale:
                                blob.unlink()
                            continue
                        total += stat.st_size
                        blobs.append((stat.st_mtime if blob != keep else float("inf"),
                                      stat.st_size, blob))
        for _, size, blob in sorted(blobs, key=lambda b: b[0]):
            if total <= self.max_bytes:
                break
            with contextlib.suppress(OSError):
                blob.unlink()
                total -= size
                with contextlib.suppress(OSError):
                    blob.parent.rmdir()  # only when it was the run's last blob


class RunEntry:
    """The cached blobs of one flow run, valid while the run's `updated` and state id hold."""

    def __init__(self, cache: RunCache, path: Path, key: dict[str, str]) -> None:
        self.cache = cache
        self.path = path
        self.key = key

    def read_json(self, name: str) -> Any | None:
        """The JSON value stored as `name`, or None (missing, stale or corrupt)."""
        payload = self._read(name, "json")
        if payload is None:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            self._forget(name)
            return None

    def write_json(self, name: str, value: Any) -> None:
        self._write(name, "json", json.dumps(value, separators=(",", ":")).encode())

    def read_frame(self, name: str) -> pd.DataFrame | None:
        """The frame stored as `name` (dtypes and index as written), or None."""
        payload = self._read(name, "arrow")
        if payload is None:
            return None
        try:
            return _frame_from_arrow(payload)
        except Exception:  # noqa: BLE001 - a checksummed file that still does not parse
            self._forget(name)
            return None

    def write_frame(self, name: str, frame: pd.DataFrame) -> None:
        """Store `frame` as Arrow IPC when it reads back equal (else store nothing)."""
        try:
            payload = _frame_to_arrow(frame)
            same = _frame_from_arrow(payload).equals(frame)
        except Exception:  # noqa: BLE001 - a frame Arrow cannot hold is just not cached
            return
        if same:
            self._write(name, "arrow", payload)

    def drop(self) -> None:
        """Delete the whole entry (the run changed since it was written)."""
        with contextlib.suppress(OSError), self.cache._locked():
            shutil.rmtree(self.path, ignore_errors=True)

    # ---- blobs

    def _file(self, name: str) -> Path:
        return self.path / hashlib.sha256(name.encode()).hexdigest()[:24]

    def _read(self, name: str, kind: str) -> bytes | None:
        path = self._file(name)
        try:
            with open(path, "rb") as file:
                header_line = file.readline(_HEADER_LIMIT)
                payload = file.read()
        except OSError:
            return None
        try:
            header = json.loads(header_line)
            stored_key = {k: header[k] for k in self.key}
            digest = header["sha256"]
        except (ValueError, KeyError, TypeError):
            self._forget(name)
            return None
        if stored_key != self.key:
            self.drop()  # the run changed: nothing read under the old key is used again
            return None
        if header.get("kind") != kind or header.get("name") != name \
                or hashlib.sha256(payload).hexdigest() != digest:
            self._forget(name)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        return payload

    def _write(self, name: str, kind: str, payload: bytes) -> None:
        header = {**self.key, "name": name, "kind": kind,
                  "sha256": hashlib.sha256(payload).hexdigest(), "format": _FORMAT}
        data = json.dumps(header).encode() + b"\n"
        if len(data) + len(payload) > self.cache.max_bytes:
            return
        try:
            with self.cache._locked():
                _private_dir(self.path)
                descriptor, temporary = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=self.path)
                try:
                    with os.fdopen(descriptor, "wb") as file:
                        file.write(data)
                        file.write(payload)
                    os.replace(temporary, self._file(name))
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                    raise
                self.cache._evict(keep=self._file(name))
        except Exception:  # noqa: BLE001 - a cache that cannot be written only costs speed
            return

    def _forget(self, name: str) -> None:
        with contextlib.suppress(OSError):
            self._file(name).unlink()


# ---- frames as Arrow IPC


def _frame_to_arrow(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.feather as feather

    sink = io.BytesIO()
    feather.write_feather(pa.Table.from_pandas(frame, preserve_index=True), sink,
                          compression="uncompressed")
    return sink.getvalue()


def _frame_from_arrow(payload: bytes) -> pd.DataFrame:
    """The frame back, list cells as lists again (Arrow hands them back as arrays)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.feather as feather

    table = feather.read_table(pa.BufferReader(payload))
    frame = table.to_pandas()
    for name, field in zip(table.column_names, table.schema):
        if pa.types.is_list(field.type) and name in frame.columns:
            frame[name] = [v.tolist() if isinstance(v, np.ndarray) else v for v in frame[name]]
    return frame


# ---- the file system


def _private_dir(path: Path) -> None:
    """Create `path` and its missing parents readable by the user alone (0700); directories
    that already exist are left as they are."""
    missing = []
    for directory in (path, *path.parents):
        if directory.is_dir():
            break
        missing.append(directory)
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
            directory.chmod(0o700)  # whatever the umask


def _subdirs(path: Path) -> list[Path]:
    try:
        return [p for p in path.iterdir() if p.is_dir()]
    except OSError:
        return []


def _files(path: Path, temporary: bool = False) -> list[Path]:
    try:
        return [p for p in path.iterdir()
                if p.is_file() and (temporary or not p.name.startswith(_TMP_PREFIX))]
    except OSError:
        return []
