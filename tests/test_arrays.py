"""Arrow arrays built without pandas: the same arrays as ``pyarrow.array``, and neither the
event log's writer nor the results table imports pandas."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pyarrow as pa
import pytest

from halving.arrays import column, inferred_column


def _same(a: pa.Array, b: pa.Array) -> bool:
    a.validate(full=True)
    return a.type == b.type and a.null_count == b.null_count and repr(a.to_pylist()) == repr(b.to_pylist())


@pytest.mark.parametrize("values,type_", [
    ([1, None, 3], pa.int64()), ([None] * 9 + [2], pa.int64()), ([-2**63, 2**63 - 1], pa.int64()), ([], pa.int64()),
    ([1.5, None, float("nan"), float("-inf")], pa.float64()), ([True, None, False, True] * 5, pa.bool_()),
    (["a", None, "ü€", ""], pa.string()), ([None, None], pa.string()),
])
def test_column_is_pyarrows_array(values, type_):
    assert _same(column(values, type_), pa.array(values, type_))


def _pyarrow_inferred(values: list) -> pa.Array:
    """What the export wrote before: pyarrow's own inference, JSON text when it fails or nests."""
    try:
        array = pa.array(values)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        array = None
    if array is not None and pa.types.is_null(array.type):
        return pa.nulls(len(values), pa.string())
    if array is not None and not pa.types.is_nested(array.type):
        return array
    return pa.array([None if v is None else json.dumps(v, allow_nan=True) for v in values], pa.string())


@pytest.mark.parametrize("values", [
    [1, 2, None], [1, 2.5], [True, False, None], [True, 1], ["a", None], ["a", 1], [[1], [2]], [{"a": 1}, None],
    [None, None], [], [2**70, 1], [2**70, 1.5], [2**53, 0.5], [2**53 + 1, 0.5], [1.0, float("inf")], [0.1, None, 3],
])
def test_inferred_column_types_as_pyarrow_does(values):
    assert _same(inferred_column(values), _pyarrow_inferred(values))


def test_column_refuses_a_type_it_cannot_build():
    with pytest.raises(TypeError, match="list"):
        column([[1]], pa.list_(pa.int64()))


def test_writing_a_log_and_its_results_imports_no_pandas(tmp_path):
    script = textwrap.dedent(f"""
        import sys
        from halving import space
        from halving.backends.protocol import Segment
        from halving.eventlog import EventLog
        from halving.experiment import ExperimentSpec, PolicySpec
        from halving.export import write_reports
        spec = ExperimentSpec(space={{"x": space.uniform(0, 1), "k": space.choice(["a", "b"])}}, metric="acc",
                              mode="max", policy=PolicySpec.of("asha", {{}}, seed=0), max_epochs=3, trials=2)
        log = EventLog({str(tmp_path)!r})
        log.experiment_started(spec.to_dict(), 1.0)
        log.trial_created(0, {{"x": 0.5, "k": "a"}}, 2.0)
        log.reports(Segment(0, 0, [0.1, 0.2], [3.0, 4.0], [{{"loss": 1.0}}, {{"loss": 0.5}}], worker=1), 2)
        log.close()
        write_reports({str(tmp_path)!r}, {str(tmp_path / "r.parquet")!r}, log.written())
        print("pandas" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"], out.stderr
