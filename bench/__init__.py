"""Benchmarks: `python -m bench [--quick] [--json]`. Every figure is reported against a baseline measured in
the same run on the same machine, because absolute times on a shared 2-core machine are noise."""
