"""Artifacts of flow and task runs (`POST /artifacts/filter`), as typed records.

Prefect 3 writes five kinds: markdown, table (JSON text of a list of rows, a dict of
columns or a list of lists), link (stored as markdown ``[text](url)``), progress (a
number) and image (a URL). `artifact_from_json` gives each its class; any other type (e.g.
Prefect's ``result`` artifacts) stays an `Artifact` with its raw `data`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from . import _ops
from ._parse import check_uuid, parse_datetime
from .client import Client
from .dtypes import TEXT
from .errors import BadResponse
from .formatting import shorten, visible
from .record_list import RecordList
from .seam import Displayed

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Artifact", "MarkdownArtifact", "LinkArtifact", "TableArtifact",
           "ProgressArtifact", "ImageArtifact", "ArtifactList", "artifact_from_json",
           "read_artifacts", "ARTIFACT_COLUMNS"]

#: the columns of `ArtifactList.to_dataframe()` (index: `artifact_id`)
ARTIFACT_COLUMNS = ("key", "kind", "type", "description", "created", "flow_run_id",
                    "task_run_id", "data")
#: a whole markdown text that is one link, as Prefect writes a link artifact
_LINK = re.compile(r"^\[(?P<text>[^\]\n]*)\]\((?P<url>[^)\s]+)\)$")
_REPR_DATA = 160


@dataclass(frozen=True, repr=False)
class Artifact(Displayed):
    """An artifact: `key` (None when unkeyed), the server's `type`, `description`, `data`."""

    _html: ClassVar[str] = "artifact_html"
    #: what the artifact shows: "markdown", "link", "table", "progress", "image" or "other"
    kind: ClassVar[str] = "other"

    artifact_id: str
    key: str | None
    type: str | None
    description: str | None
    data: Any
    created: datetime | None
    flow_run_id: str | None
    task_run_id: str | None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    def _text(self) -> str:
        """`data` as text ("" when there is none), for the kinds whose data is one string."""
        return str(self.data or "")

    def _summary(self) -> str:
        return json.dumps(self.data, default=str) if not isinstance(self.data, str) \
            else self.data

    def __repr__(self) -> str:
        key = f" {self.key!r}" if self.key else ""
        return visible(f"{type(self).__name__}{key}: "
                       f"{shorten(self._summary(), _REPR_DATA)}", "")


@dataclass(frozen=True, repr=False)
class MarkdownArtifact(Artifact):
    """Markdown text (`markdown`); displays render it sanitised."""

    kind: ClassVar[str] = "markdown"

    @property
    def markdown(self) -> str:
        return self._text()


@dataclass(frozen=True, repr=False)
class LinkArtifact(MarkdownArtifact):
    """A link: `url` and `text` (Prefect stores it as the markdown ``[text](url)``)."""

    kind: ClassVar[str] = "link"

    @property
    def url(self) -> str:
        found = _LINK.match(self.markdown.strip())
        return found.group("url") if found else ""

    @property
    def text(self) -> str:
        found = _LINK.match(self.markdown.strip())
        return found.group("text") or self.url if found else ""


@dataclass(frozen=True, repr=False)
class TableArtifact(Artifact):
    """A table; `rows` are dicts of column → value, `to_dataframe()` the typed frame."""

    kind: ClassVar[str] = "table"

    @property
    def rows(self) -> list[dict[Any, Any]]:
        """The table's rows, whichever shape Prefect stored (list of rows, dict of columns,
        list of lists: columns then named 0, 1, …)."""
        table = self.data
        if isinstance(table, str):
            try:
                table = json.loads(table)
            except ValueError:
                raise BadResponse(f"Table artifact {self.key or self.artifact_id} holds no "
                                  "JSON table; read its raw text in `.data`.") from None
        if isinstance(table, dict) and all(isinstance(v, list) for v in table.values()):
            height = max((len(v) for v in table.values()), default=0)
            return [{name: (column[i] if i < len(column) else None)
                     for name, column in table.items()} for i in range(height)]
        if isinstance(table, list) and all(isinstance(r, dict) for r in table):
            return [dict(r) for r in table]
        if isinstance(table, list) and all(isinstance(r, list) for r in table):
            return [dict(enumerate(r)) for r in table]
        raise BadResponse(f"Table artifact {self.key or self.artifact_id} is not a list of "
                          "rows nor a dict of columns; read its raw value in `.data`.")

    def to_dataframe(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows)


@dataclass(frozen=True, repr=False)
class ProgressArtifact(Artifact):
    """Progress in percent (`progress`, 0–100)."""

    kind: ClassVar[str] = "progress"

    @property
    def progress(self) -> float | None:
        try:
            return min(100.0, max(0.0, float(self.data)))
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True, repr=False)
class ImageArtifact(Artifact):
    """An image shown from `url` (displays show only ``https:`` and ``data:`` images)."""

    kind: ClassVar[str] = "image"

    @property
    def url(self) -> str:
        return self._text()


def artifact_from_json(row: dict[str, Any]) -> Artifact:
    """The typed artifact of one `/artifacts/filter` row."""
    if not isinstance(row, dict) or not row.get("id"):
        raise BadResponse("An artifact from the server is not a JSON object with an id.")
    kind = str(row.get("type") or "")
    data = row.get("data")
    cls: type[Artifact] = {"markdown": MarkdownArtifact, "table": TableArtifact,
                           "progress": ProgressArtifact, "image": ImageArtifact}.get(kind, Artifact)
    if cls is MarkdownArtifact and isinstance(data, str) and _LINK.match(data.strip()):
        cls = LinkArtifact
    return cls(artifact_id=str(row["id"]), key=row.get("key"), type=row.get("type"),
               description=row.get("description"), data=data,
               created=parse_datetime(row.get("created")),
               flow_run_id=row.get("flow_run_id"), task_run_id=row.get("task_run_id"), raw=row)


class ArtifactList(RecordList[Artifact]):
    """Artifacts, oldest first."""

    _html: ClassVar[str] = "artifact_list_html"

    def by_key(self, key: str) -> Artifact | None:
        """The newest artifact with this key, if any."""
        return next((a for a in reversed(self._items) if a.key == key), None)

    def __repr__(self) -> str:
        shown = [repr(a) for a in self._items[:20]]
        more = f"\n... {len(self) - 20} more" if len(self) > 20 else ""
        return f"ArtifactList({len(self)} artifacts)" + "".join(f"\n{s}" for s in shown) + more

    def to_dataframe(self) -> pd.DataFrame:
        """One row per artifact (index `artifact_id`), columns `ARTIFACT_COLUMNS`."""
        import pandas as pd

        frame = pd.DataFrame(
            [{"key": a.key, "kind": a.kind, "type": a.type, "description": a.description,
              "created": a.created, "flow_run_id": a.flow_run_id, "task_run_id": a.task_run_id,
              "data": a.data} for a in self._items], columns=list(ARTIFACT_COLUMNS))
        frame["created"] = pd.to_datetime(frame["created"], utc=True)
        frame.index = pd.Index([a.artifact_id for a in self._items], dtype=TEXT,
                               name="artifact_id")
        return frame


def read_artifacts(client: Client, *, flow_run_id: str | None = None,
                   task_run_id: str | None = None) -> ArtifactList:
    """The artifacts of a flow run or of a task run (paged, counted), oldest first."""
    artifacts: dict[str, Any] = {}
    if flow_run_id is not None:
        artifacts["flow_run_id"] = {"any_": [check_uuid(flow_run_id, "flow_run_id")]}
    if task_run_id is not None:
        artifacts["task_run_id"] = {"any_": [check_uuid(task_run_id, "task_run_id")]}
    listing = client.run(_ops.export("/artifacts/filter",
                                     {"artifacts": artifacts, "sort": "ID_DESC"},
                                     count_path="/artifacts/count"))
    found = [artifact_from_json(r) for r in listing.rows]
    return ArtifactList(sorted(found, key=lambda a: (a.created is None, a.created,
                                                     a.artifact_id)))
