"""Running journeys: the Temporal client and workers, the payload codec, the embedded dev setup, logs, and
serving an ASGI app in-process.

May import anything below it (`services`, `store`, `engine`, `format`, `templates`) and the adapters
(`journeys.workflows`, `journeys.activities`, `journeys.channels`).
"""
