"""The panel's data: recent flow runs and their counts by state, as JSON-safe records.

Filters arrive as query-string values (`PanelQuery.from_args`) and become the library's own
query keywords, so the panel lists exactly what `FlowRunView.query(...)` returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from prefect_widgets import _ops
from prefect_widgets.client import Client
from prefect_widgets.errors import InvalidRequest
from prefect_widgets.queries import count_flow_runs_by_state, query_flow_runs
from prefect_widgets.states import STATE_TYPES
from prefect_widgets.views import FlowRunView

__all__ = ["PanelQuery", "recent_runs", "state_counts", "MAX_LIMIT"]

#: the most runs one panel request lists
MAX_LIMIT = 500
#: state types whose message the panel shows on hover
_FAILED = frozenset({"FAILED", "CRASHED"})


def _one(args: Mapping[str, Sequence[str]], key: str) -> str | None:
    values = [v.strip() for v in args.get(key, ()) if v.strip()]
    if len(values) > 1:
        raise InvalidRequest(f"Give {key!r} once, not {len(values)} times.")
    return values[0] if values else None


@dataclass(frozen=True)
class PanelQuery:
    """The panel's filters: flow name, deployment name, state types, a tag, a time window
    (runs started in the last `since_hours`) and how many runs to list."""

    flow: str | None = None
    deployment: str | None = None
    states: tuple[str, ...] = ()
    tag: str | None = None
    since_hours: float | None = None
    limit: int = 50

    @classmethod
    def from_args(cls, args: Mapping[str, Sequence[str]]) -> PanelQuery:
        """Parse `?flow=&deployment=&state=RUNNING,FAILED&tag=&since_hours=&limit=`;
        anything else, or a bad value, is `InvalidRequest`."""
        unknown = sorted(set(args) - {"flow", "deployment", "state", "tag", "since_hours",
                                      "limit"})
        if unknown:
            raise InvalidRequest(f"Unknown filter {unknown[0]!r:.40}; valid: flow, deployment, "
                                 "state, tag, since_hours, limit.")
        states = tuple(s.strip().upper() for s in (_one(args, "state") or "").split(",")
                       if s.strip())
        bad = [s for s in states if s not in STATE_TYPES]
        if bad:
            raise InvalidRequest(f"Unknown state {bad[0]!r:.40}; valid: {', '.join(STATE_TYPES)}.")
        since = _one(args, "since_hours")
        limit = _one(args, "limit")
        try:
            since_hours = float(since) if since is not None else None
            count = int(limit) if limit is not None else cls.limit
        except ValueError:
            raise InvalidRequest("since_hours must be a number of hours and limit a whole "
                                 "number.") from None
        if since_hours is not None and not 0 < since_hours <= 24 * 366:
            raise InvalidRequest("since_hours must be more than 0 and at most a year of hours.")
        if not 1 <= count <= MAX_LIMIT:
            raise InvalidRequest(f"limit must be from 1 to {MAX_LIMIT}.")
        return cls(flow=_one(args, "flow"), deployment=_one(args, "deployment"), states=states,
                   tag=_one(args, "tag"), since_hours=since_hours, limit=count)

    def keywords(self, now: datetime) -> dict[str, Any]:
        """The `FlowRunView.query` keywords of these filters, but for state and limit."""
        keywords: dict[str, Any] = {}
        if self.flow:
            keywords["flow_name"] = [self.flow]
        if self.tag:
            keywords["tags"] = [self.tag]
        if self.since_hours is not None:
            keywords["start_time_after"] = now - timedelta(hours=self.since_hours)
        if self.deployment:
            keywords["filter"] = {"deployments": {"name": {"any_": [self.deployment]}}}
        return keywords


def _names(client: Client, path: str, key: str, ids: set[str]) -> dict[str, str]:
    """Id → name of the flows or deployments with these ids (one filtered read)."""
    if not ids:
        return {}
    listing = client.run(_ops.export(path, {key: {"id": {"any_": sorted(ids)}}}))
    return {row["id"]: str(row.get("name") or "") for row in listing.rows}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def run_record(view: FlowRunView, flows: Mapping[str, str], deployments: Mapping[str, str]
               ) -> dict[str, Any]:
    """One flow run as the panel shows it (JSON-safe)."""
    duration = view.duration
    return {
        "id": view.flow_run_id, "name": view.name, "flow_id": view.flow_id,
        "flow_name": flows.get(view.flow_id), "state_type": view.state.type,
        "state_name": view.state.name,
        "state_message": view.state.message if view.state.type in _FAILED else None,
        "start_time": _iso(view.start_time), "end_time": _iso(view.end_time),
        "expected_start_time": _iso(view.expected_start_time),
        "duration": round(duration.total_seconds(), 3) if duration is not None else None,
        "tags": list(view.tags), "deployment_id": view.deployment_id,
        "deployment_name": deployments.get(view.deployment_id or ""),
        "ui_url": view.ui_url,
    }


def recent_runs(client: Client, query: PanelQuery, now: datetime | None = None
                ) -> dict[str, Any]:
    """The newest runs matching `query` (by start time), and how many match in all."""
    now = now or datetime.now(timezone.utc)
    keywords = query.keywords(now)
    if query.states:
        keywords["state_type"] = list(query.states)
    runs = query_flow_runs(client, **keywords, limit=query.limit, sort="START_TIME_DESC")
    flows = _names(client, "/flows/filter", "flows", {v.flow_id for v in runs})
    deployments = _names(client, "/deployments/filter", "deployments",
                         {v.deployment_id for v in runs if v.deployment_id})
    return {"runs": [run_record(v, flows, deployments) for v in runs], "total": runs.total,
            "now": now.isoformat()}


def state_counts(client: Client, query: PanelQuery, now: datetime | None = None
                 ) -> dict[str, Any]:
    """How many runs match `query`'s other filters, per state type (zeros left out)."""
    counts = count_flow_runs_by_state(client, **query.keywords(now or datetime.now(timezone.utc)))
    return {"counts": counts, "total": sum(counts.values())}
