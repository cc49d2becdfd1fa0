"""results.parquet, written at the end of a run from the events in memory, is the table the
export builds by reading the log back."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from halving.export import write_reports


def assert_results_match_the_log(run_dir: Path, scratch: Path) -> None:
    written = pq.read_table(run_dir / "results.parquet")
    read_back = pq.read_table(write_reports(run_dir, scratch / "read-back.parquet"))
    assert written.num_rows > 0
    assert written.schema == read_back.schema
    assert written.equals(read_back)
