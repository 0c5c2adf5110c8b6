"""How long an SMS is on the wire: encoding, length and segment count, which is what providers bill.

One character outside the GSM 03.38 alphabet (a Persian letter, an emoji, a curly quote) switches the whole
message to UCS-2 and cuts a segment from 160 to 70 characters, so marketers need to see this before sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 (3GPP TS 23.038) default alphabet in code order, 0x00-0x7F; 0x1B is the escape to the extension table.
_GSM_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM_BASIC = frozenset(_GSM_BASIC_TABLE) - {"\x1b"}
# The default extension table: each is sent as ESC plus one septet, so it costs two.
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

_LIMITS = {"GSM-7": (160, 153), "UCS-2": (70, 67)}  # (single message, part of a concatenated one)


@dataclass(frozen=True)
class SmsLength:
    """The size of one SMS text: `characters` are septets (GSM-7) or UTF-16 code units (UCS-2)."""

    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    segments: int

    def as_dict(self) -> dict[str, str | int]:
        return {"encoding": self.encoding, "characters": self.characters, "segments": self.segments}


def segments(text: str) -> SmsLength:
    """Encoding, length and segment count of `text` as a provider would send it (the empty text is 0 segments).

    A concatenated message never splits an escape sequence or a surrogate pair across two parts, so a part
    may carry one unit less than 153/67 (as the carriers and Twilio count it).
    """
    if all(ch in GSM_BASIC or ch in GSM_EXTENSION for ch in text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
    else:
        encoding = "UCS-2"
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength(encoding, sum(costs), _count_segments(costs, *_LIMITS[encoding]))


def _count_segments(costs: list[int], single: int, part: int) -> int:
    total = sum(costs)
    if total <= single:
        return 1 if total else 0
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return count
