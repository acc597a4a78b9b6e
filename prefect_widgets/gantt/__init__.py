"""A plotly Gantt chart of a flow run's task runs that stays usable at 10,000 bars.

`px.timeline` draws one SVG path per bar (a 10k-task run: ~5 MB of HTML, seconds to paint).
Here each colour is ONE line trace whose segments are the bars (x = start, end, gap, ...),
plus one invisible marker trace per colour at the bar midpoints that carries the hover
text. Above `WEBGL_THRESHOLD` bars the traces are WebGL (`Scattergl`, one canvas).
Data arrays are numpy, which plotly serialises as compact base64 typed arrays.

Bars come from the timeline frame (`flow_run.to_dataframe(columns="timeline")`, one
graph-v2 request): task runs and subflow runs, coloured by state with the repr palette.
Running (or end-less) bars extend to now; task runs that never started are drawn as open
markers on a separate "not started" row.

One concern per module: `segments` (bars and attempt segments as numbers), `lanes` (which
row each bar sits on), `traces` (plotly traces and colours), `figure` (`gantt_figure`,
`plot_gantt`). This package only re-exports their public names.
"""

from __future__ import annotations

from .figure import ATTEMPT_SOURCE, gantt_figure, plot_gantt
from .lanes import GROUP_BY, pack_lanes
from .segments import MIN_WIDTH_FRACTION, RETRIED
from .traces import (
    COLOR_BY,
    CRITICAL_COLOR,
    DIM_ALPHA,
    NOT_STARTED,
    QUALITATIVE,
    QUEUED_COLOR,
    RETRIED_COLOR,
    RETRIED_LABEL,
    WEBGL_THRESHOLD,
)

__all__ = ["plot_gantt", "gantt_figure", "pack_lanes", "WEBGL_THRESHOLD", "COLOR_BY",
           "GROUP_BY", "QUALITATIVE", "NOT_STARTED", "RETRIED", "RETRIED_LABEL",
           "RETRIED_COLOR", "QUEUED_COLOR", "CRITICAL_COLOR", "DIM_ALPHA",
           "MIN_WIDTH_FRACTION", "ATTEMPT_SOURCE"]
