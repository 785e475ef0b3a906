"""Memory stays flat in the row count: 200,000 rows take no more than 20,000 do.

Each import runs in a fresh process (the benchmark's probe), so the peak resident
set it reports belongs to that import alone: the importing process and, separately,
its reader process. A behaviour check with a generous margin, never a speed check.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bin.bench_import import generate_csv, probe_in_subprocess

SMALL, LARGE = 20_000, 200_000
MARGIN_MB = 40.0  # holding the rows would cost hundreds of MB at 200,000 rows


@pytest.mark.timeout(600)
def test_peak_memory_does_not_grow_with_rows(database_url: str, tmp_path: Path) -> None:
    peaks = {}
    for rows in (SMALL, LARGE):
        path = tmp_path / f"{rows}.csv"
        generate_csv(path, rows, seed=rows)
        figures = probe_in_subprocess(database_url, path, timeout=540)
        assert figures["rows"] == rows
        assert figures["inserted"] + figures["refused"] == rows
        peaks[rows] = figures
    small, large = peaks[SMALL], peaks[LARGE]
    assert large["peak_rss_mb"] <= small["peak_rss_mb"] + MARGIN_MB, peaks
    assert large["reader_peak_rss_mb"] <= small["reader_peak_rss_mb"] + MARGIN_MB, peaks
