"""The `console` benchmark suite runs end to end on a small store: the journey page answered, signed in, with
the counts of the runs it put there, and the report of the same data as its baseline."""

from __future__ import annotations

from bench.console_pages import measure


async def test_console_benchmark_times_the_journey_page_against_the_report() -> None:
    [figure] = await measure(50)

    assert figure.name == "console_journey_page_50_live_runs_p50_ms"
    assert figure.value > 0 and figure.baseline and figure.baseline > 0
    assert figure.ratio is not None and figure.ratio > 0
