"""Small measuring helpers: percentiles of latencies, this process's memory."""

from __future__ import annotations

import statistics
from pathlib import Path


def percentile(samples: list[float], p: float) -> float:
    """The p-th percentile (0 < p < 100), interpolated between the samples around it."""
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[round(p) - 1]


def rss_mib() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MiB (`/proc/self/status`; psutil elsewhere)."""
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
        return _kib(fields["VmRSS"]) / 1024, _kib(fields["VmHWM"]) / 1024
    import psutil  # type: ignore[import-not-found, import-untyped, unused-ignore]

    info = psutil.Process().memory_info()
    return info.rss / 2**20, getattr(info, "peak_wset", info.rss) / 2**20


def _kib(value: str) -> float:
    return float(value.split()[0])
