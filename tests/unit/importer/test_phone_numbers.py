"""The shortcut for numbers written as `+` and digits gives what `phonenumbers` gives, for every country code:
the same E.164 text for a valid number, and no answer (so the library decides, with its own message) for the
rest."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneNumberType

from journeys.services.phone_numbers import plain_e164


def library_e164(text: str) -> str | None:
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number) or number.extension:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def examples(country_code: int) -> list[str]:
    """The library's example national numbers of every type, for every region of the code."""
    found = []
    for region in COUNTRY_CODE_TO_REGION_CODE[country_code]:
        for kind in PhoneNumberType.values():
            example = phonenumbers.example_number_for_type(region, kind) if region != "001" else None
            if example is not None:
                found.append(phonenumbers.national_significant_number(example))
    return found


def near(national: str, rng: random.Random) -> str:
    """An example number with a few digits changed, one added in front or one taken off the end."""
    digits = list(national)
    for _ in range(rng.randint(0, 3)):
        digits[rng.randrange(len(digits))] = rng.choice("0123456789")
    if rng.random() < 0.2:
        digits.insert(0, rng.choice("0123456789"))
    if rng.random() < 0.1 and len(digits) > 3:
        digits.pop()
    return "".join(digits)


@pytest.mark.parametrize("country_code", sorted(COUNTRY_CODE_TO_REGION_CODE))
def test_plain_number_gets_the_libraries_answer_or_none(country_code: int) -> None:
    rng = random.Random(country_code)
    known = examples(country_code)
    numbers = [f"+{country_code}{n}" for n in known]
    for _ in range(200):
        if known and rng.random() < 0.7:
            national = near(rng.choice(known), rng)
        else:
            national = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 15)))
        numbers.append(f"+{country_code}{national}")
    for text in numbers:
        ours = plain_e164(text)
        assert ours is None or ours == library_e164(text), text


@pytest.mark.parametrize("text", ["+989121000001", "+447911123456", "+12025550123", "+4915112345678"])
def test_valid_plain_number_is_answered_without_the_library(text: str) -> None:
    assert plain_e164(text) == library_e164(text) == text


@pytest.mark.parametrize("text", ["+98 912 100 0001", "+989121000001 ext. 5", "00989121000001", "+0989121000001", "+"])
def test_other_writings_are_left_to_the_library(text: str) -> None:
    assert plain_e164(text) is None
