"""Flow runs named by events since a time (`POST /events/filter`, paged by
`GET /events/filter/next`).

Prefect 3.8 filters runs by no `updated` field, and a forced state change moves no time
field: the server records it only as an event. So readers that keep runs current (a flow's
history, `sync_history`) ask the events which flow runs changed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._parse import expect
from .client import Call, Operation

__all__ = ["FLOW_RUN", "TASK_RUN", "flow_runs_in_events"]

#: the prefixes of flow-run and task-run event names and resource ids
FLOW_RUN, TASK_RUN = "prefect.flow-run.", "prefect.task-run."
_FAR_FUTURE = "2999-01-01T00:00:00+00:00"
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def flow_runs_in_events(since: str, prefixes: Sequence[str], *, related_to: str | None = None,
                        count_related: bool = False, not_found: str | None = None
                        ) -> Operation[set[str]]:
    """Ids of the flow runs named by events whose name starts with one of `prefixes` and
    that occurred at or after `since` (ISO 8601).

    `related_to`: only events related to this resource (e.g. 'prefect.flow.<id>').
    `count_related`: a flow run among an event's related resources counts too, not only its
    resource (a task run's events name their flow run there). `not_found`: the message of
    the `NotFound` a server without the events API raises."""
    query: dict[str, Any] = {"occurred": {"since": since, "until": _FAR_FUTURE},
                             "event": {"prefix": list(prefixes)}}
    if related_to is not None:
        query["related"] = {"id": [related_to]}
    page = yield Call("POST", "/events/filter", json={"filter": query, "limit": 50},
                      not_found=not_found)
    ids: set[str] = set()
    while True:
        page = expect(dict, page, "/events/filter")
        for event in expect(list, page.get("events") or [], "/events/filter events"):
            event = event if isinstance(event, dict) else {}
            named = [event.get("resource"), *(event.get("related") or [])] if count_related \
                else [event.get("resource")]
            for resource in named:
                resource_id = str((resource or {}).get("prefect.resource.id") or "")
                run_id = resource_id.removeprefix(FLOW_RUN)
                if resource_id.startswith(FLOW_RUN) and _UUID.fullmatch(run_id):
                    ids.add(run_id)
        token = parse_qs(urlsplit(str(page.get("next_page") or "")).query).get("page-token")
        if not token:
            return ids
        page = yield Call("GET", "/events/filter/next", params={"page-token": token[0]})
