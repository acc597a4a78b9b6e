"""Artifacts of flow and task runs (issue 18): every kind Prefect 3 writes, read back typed."""

from __future__ import annotations

import pytest

from prefect_widgets import (
    ArtifactList,
    BadResponse,
    FlowRunView,
    ImageArtifact,
    LinkArtifact,
    MarkdownArtifact,
    ProgressArtifact,
    TableArtifact,
)
from prefect_widgets.artifacts import ARTIFACT_COLUMNS, Artifact, artifact_from_json
from prefect_widgets.samples import PIXEL_PNG


@pytest.fixture
def artifacts(debug_runs) -> ArtifactList:
    return FlowRunView.from_flow_run_id(debug_runs["artifacts"]).artifacts


def test_each_kind_is_read_with_its_data(artifacts):
    by_key = {a.key: a for a in artifacts}
    assert set(by_key) == {"summary", "rows-by-region", "rows-by-column", "docs-link",
                           "progress", "pixel"}
    summary = by_key["summary"]
    assert isinstance(summary, MarkdownArtifact) and summary.kind == "markdown"
    assert "[the docs](https://docs.prefect.io)" in summary.markdown
    assert f"![pixel]({PIXEL_PNG})" in summary.markdown
    link = by_key["docs-link"]
    assert isinstance(link, LinkArtifact) and link.type == "markdown" and link.kind == "link"
    assert (link.url, link.text) == ("https://docs.prefect.io/", "Prefect docs")
    progress = by_key["progress"]
    assert isinstance(progress, ProgressArtifact) and progress.progress == 42.0
    image = by_key["pixel"]
    assert isinstance(image, ImageArtifact) and image.url == PIXEL_PNG
    assert by_key["rows-by-region"].description == "list of dicts"


def test_tables_of_both_shapes_become_the_same_frame(artifacts):
    rows = artifacts.by_key("rows-by-region")
    columns = artifacts.by_key("rows-by-column")
    assert isinstance(rows, TableArtifact) and isinstance(columns, TableArtifact)
    expected = [{"region": "eu", "rows": 3}, {"region": "us", "rows": 5}]
    assert rows.rows == expected and columns.rows == expected
    assert rows.to_dataframe().equals(columns.to_dataframe())
    assert list(rows.to_dataframe().columns) == ["region", "rows"]


def test_artifacts_know_their_runs_and_the_task_run_reads_the_same(artifacts, debug_runs):
    run = FlowRunView.from_flow_run_id(debug_runs["artifacts"])
    task = run.get_task_run("report_artifacts")
    assert {a.flow_run_id for a in artifacts} == {run.flow_run_id}
    assert {a.task_run_id for a in artifacts} == {task.task_run_id}
    assert [a.artifact_id for a in task.artifacts] == [a.artifact_id for a in artifacts]
    created = [a.created for a in artifacts]
    assert created == sorted(created)


def test_artifact_list_frame_and_repr(artifacts):
    frame = artifacts.to_dataframe()
    assert list(frame.columns) == list(ARTIFACT_COLUMNS)
    assert frame.index.name == "artifact_id" and len(frame) == 6
    assert set(frame["kind"]) == {"markdown", "link", "table", "progress", "image"}
    assert str(frame["created"].dtype).startswith("datetime64")
    text = repr(artifacts)
    assert text.startswith("ArtifactList(6 artifacts)")
    assert "TableArtifact 'rows-by-region'" in text


def test_runs_without_artifacts_have_an_empty_list(runs):
    assert len(FlowRunView.from_flow_run_id(runs["hello"]).artifacts) == 0


def test_unknown_types_stay_raw_and_malformed_tables_raise_typed():
    row = {"id": "a1", "type": "result", "data": {"storage_key": "/x"}, "key": None}
    other = artifact_from_json(row)
    assert type(other) is Artifact and other.kind == "other" and other.data == row["data"]
    table = artifact_from_json({"id": "a2", "type": "table", "data": "not json"})
    with pytest.raises(BadResponse, match="no JSON table"):
        _ = table.rows
    assert artifact_from_json({"id": "a3", "type": "table",
                               "data": "[[1, 2], [3, 4]]"}).rows == [{0: 1, 1: 2}, {0: 3, 1: 4}]
    with pytest.raises(BadResponse):
        artifact_from_json({"type": "markdown"})


def test_artifact_repr_is_bounded_and_shows_control_characters():
    shown = repr(artifact_from_json({"id": "a", "type": "markdown", "key": "k",
                                     "data": "\x1b]8;;evil\x07" + "m" * 10_000}))
    assert "\x1b" not in shown and "\\x1b" in shown and len(shown) < 400
