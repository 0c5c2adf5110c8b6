"""The `api` benchmark suite runs end to end on a small population: its own dev server, the app served over
HTTP, every event taken in as the suite checks (it raises otherwise), every owed event delivered."""

from __future__ import annotations

from bench.api import Plan, measure


async def test_api_benchmark_measures_every_figure_on_a_small_population() -> None:
    figures = {f.name: f for f in await measure(Plan(waiting=20, events=40, samples=6, outage=5))}

    assert set(figures) == {
        "api_ingest_40_events_per_s",
        "api_ingest_40_vs_signals_taken_in",
        "api_ingest_40_acted_on_events_per_s",
        "api_event_to_end_alone_p50_ms",
        "api_event_to_end_alone_p99_ms",
        "api_event_to_end_p50_ms",
        "api_event_to_end_p99_ms",
        "api_background_ingest_events_per_s",
        "api_outage_5_owed_delivered_s",
        "api_outage_5_owed_delivered_per_s",
    }
    measured = [f for name, f in figures.items() if name != "api_background_ingest_events_per_s"]
    assert all(f.value > 0 for f in measured)
    assert all(f.ratio and f.ratio > 0 for f in measured if f.baseline is not None)
