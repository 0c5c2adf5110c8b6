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
_GSM = GSM_BASIC | GSM_EXTENSION

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
    if _GSM.issuperset(text):
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
        total = len(text) + sum(text.count(ch) for ch in GSM_EXTENSION)
    else:
        encoding = "UCS-2"
        total = len(text.encode("utf-16-le", "surrogatepass")) // 2  # a character past U+FFFF is a surrogate pair
    single, part = _LIMITS[encoding]
    if total <= single:
        return SmsLength(encoding, total, 1 if total else 0)
    if encoding == "GSM-7":
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
    else:
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    return SmsLength(encoding, total, _count_segments(costs, part))


def _count_segments(costs: list[int], part: int) -> int:
    """Parts of a concatenated message: a unit that would not fit in what is left of a part starts the next."""
    count, used = 1, 0
    for cost in costs:
        if used + cost > part:
            count, used = count + 1, 0
        used += cost
    return count
