"""`bench/signal_latency.png`: signal latency against the number of runs waiting, journeys and baseline."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

PLOT = Path(__file__).resolve().parent / "signal_latency.png"


@dataclass(frozen=True)
class LatencyPoint:
    waiting: int  # journey runs waiting (and as many bare workflows) when measured
    p50_ms: float
    p99_ms: float
    baseline_p50_ms: float
    baseline_p99_ms: float


def plot_signal_latency(points: list[LatencyPoint], title: str, target_ms: float, path: Path = PLOT) -> Path | None:
    """Write the plot; None when matplotlib is not installed (`pip install -e '.[dev]'` brings it)."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    waiting = [p.waiting for p in points]
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    axes.plot(waiting, [p.p99_ms for p in points], "o-", color="tab:red", label="journeys signal → run ended, p99")
    axes.plot(waiting, [p.p50_ms for p in points], "o-", color="tab:orange", label="journeys, p50")
    axes.plot(waiting, [p.baseline_p99_ms for p in points], "s--", color="tab:blue", label="bare workflow, p99")
    axes.plot(waiting, [p.baseline_p50_ms for p in points], "s--", color="tab:cyan", label="bare workflow, p50")
    axes.axhline(target_ms, color="grey", linestyle=":", label=f"target p99 ≤ {target_ms:.0f} ms")
    axes.set_xscale("log")
    axes.minorticks_off()
    axes.set_xticks(waiting, [f"{w:,}" for w in waiting])
    axes.set_xlabel("runs waiting (journeys; as many bare workflows for the baseline)")
    axes.set_ylabel("latency, ms")
    axes.set_ylim(bottom=0)
    axes.set_title(title, fontsize=10)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path
