"""A phone number already written as `+` and digits, checked and put in E.164 without `phonenumbers.parse`.

Most files give their numbers so; `phonenumbers.parse` spends most of its time on what such a number does not
have (spaces, letters, extensions, dialling prefixes), and `is_valid_number` compiles-or-finds each type's
pattern at every call. `plain_e164` takes the steps `parse` takes for such a number (the country code, the
national prefix it strips, Italian leading zeros), with the library's own helpers and metadata, and matches
the national number against each region's patterns compiled once. It answers only when the number is valid;
for anything else (None) the caller asks `phonenumbers` itself, so every refusal and its message stay the
library's. tests/unit/importer/test_phone_numbers.py compares the two on numbers of every country code.
"""

from __future__ import annotations

import re
from functools import cache

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata, PhoneNumber
from phonenumbers import phonenumberutil as util

_PLAIN = re.compile(r"\+[1-9][0-9]{2,16}")
_TOO_SHORT_OR_LOCAL = (
    util.ValidationResult.TOO_SHORT,
    util.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    util.ValidationResult.INVALID_LENGTH,
)
_DESCS = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")
_Pattern = tuple[frozenset[int], re.Pattern[str]]


def plain_e164(text: str) -> str | None:
    """`text` (stripped) in E.164 when it is `+` and digits and a valid number; None otherwise."""
    if not _PLAIN.fullmatch(text):
        return None
    digits = text[1:]
    for size in (1, 2, 3):  # country codes are prefix-free: the first known one is the one
        country_code = int(digits[:size])
        if country_code in COUNTRY_CODE_TO_REGION_CODE:
            break
    else:
        return None
    checks = _checks(country_code)
    if checks is None:
        return None
    metadata, single_region = checks
    national = digits[size:]
    if len(national) < 2:
        return None
    _, stripped, _ = util._maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national and util._test_number_length(stripped, metadata) not in _TOO_SHORT_OR_LOCAL:
        national = stripped
    if not 2 <= len(national) <= 17 or national.startswith("0"):  # leading zeros: the library's own way
        return None
    if single_region is not None:
        valid = _matches(national, single_region)
    else:
        valid = phonenumbers.is_valid_number(PhoneNumber(country_code=country_code, national_number=int(national)))
    return f"+{country_code}{national}" if valid else None


@cache
def _checks(country_code: int) -> tuple[PhoneMetadata, tuple[_Pattern | None, list[_Pattern]] | None] | None:
    """The metadata `parse` uses for the code, and the patterns validity is decided by when one region has it
    (several regions: `phonenumbers` picks the region first)."""
    main = util.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, main)
    if metadata is None:
        return None
    regions = COUNTRY_CODE_TO_REGION_CODE[country_code]
    if len(regions) != 1:
        return metadata, None
    if main != util.REGION_CODE_FOR_NON_GEO_ENTITY and util.country_code_for_valid_region(main) != country_code:
        return None
    general = _pattern(metadata.general_desc)
    kinds = [_pattern(getattr(metadata, name)) for name in _DESCS]
    kinds.append(_pattern(metadata.fixed_line))
    if not metadata.same_mobile_and_fixed_line_pattern:
        kinds.append(_pattern(metadata.mobile))
    return metadata, (general, [kind for kind in kinds if kind is not None])


def _pattern(desc: util.PhoneNumberDesc | None) -> _Pattern | None:
    if desc is None or not desc.national_number_pattern:
        return None
    return frozenset(desc.possible_length or ()), re.compile(desc.national_number_pattern)


def _matches(national: str, checks: tuple[_Pattern | None, list[_Pattern]]) -> bool:
    """What `_number_type_helper(national, metadata) != UNKNOWN` says: the general description and one type."""
    general, kinds = checks
    return general is not None and _fits(national, general) and any(_fits(national, kind) for kind in kinds)


def _fits(national: str, pattern: _Pattern) -> bool:
    lengths, regex = pattern
    return (not lengths or len(national) in lengths) and regex.fullmatch(national) is not None
