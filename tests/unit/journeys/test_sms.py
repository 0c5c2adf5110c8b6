from __future__ import annotations

import pytest

from journeys.engine.sms import SmsLength, segments


def test_segments_empty_text_is_zero_segments() -> None:
    assert segments("") == SmsLength("GSM-7", 0, 0)


def test_segments_ascii_160_is_one_segment() -> None:
    assert segments("a" * 160) == SmsLength("GSM-7", 160, 1)


def test_segments_ascii_161_is_two_segments() -> None:
    assert segments("a" * 161) == SmsLength("GSM-7", 161, 2)


def test_segments_gsm_concatenated_parts_hold_153() -> None:
    assert segments("a" * 306).segments == 2
    assert segments("a" * 307).segments == 3


@pytest.mark.parametrize("char", list("{}[]~\\|^€\f"))
def test_segments_extension_characters_count_two(char: str) -> None:
    assert segments(char) == SmsLength("GSM-7", 2, 1)


def test_segments_extension_characters_fill_a_segment_sooner() -> None:
    assert segments("{" * 80) == SmsLength("GSM-7", 160, 1)
    assert segments("a" * 159 + "€") == SmsLength("GSM-7", 161, 2)


def test_segments_escape_sequence_is_not_split_across_parts() -> None:
    # 306 septets would fit two parts of 153, but the escape pair cannot straddle them.
    assert segments("a" * 152 + "{" + "a" * 152) == SmsLength("GSM-7", 306, 3)


def test_segments_gsm_basic_table_accents_and_greek_stay_gsm() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ ¤¡ÄÖÑÜ§¿äöñüà"
    assert segments(text) == SmsLength("GSM-7", len(text), 1)


@pytest.mark.parametrize("char", ["ç", "á", "`", "’", "\t"])
def test_segments_characters_outside_gsm_switch_to_ucs2(char: str) -> None:
    assert segments("Hello " + char).encoding == "UCS-2"


def test_segments_persian_70_is_one_segment() -> None:
    assert segments("س" * 70) == SmsLength("UCS-2", 70, 1)


def test_segments_persian_71_is_two_segments() -> None:
    assert segments("س" * 71) == SmsLength("UCS-2", 71, 2)


def test_segments_persian_message() -> None:
    text = "مشترک گرامی، مودم 4G رایگان شما آماده است. لطفاً برای ثبت‌نام به سایت ما مراجعه کنید."
    assert len(text) > 70
    assert segments(text) == SmsLength("UCS-2", len(text), 2)


def test_segments_emoji_counts_two_code_units() -> None:
    assert segments("😀") == SmsLength("UCS-2", 2, 1)
    assert segments("😀" * 35) == SmsLength("UCS-2", 70, 1)
    assert segments("😀" * 36) == SmsLength("UCS-2", 72, 2)


def test_segments_surrogate_pair_is_not_split_across_parts() -> None:
    # 134 units would fit two parts of 67, but the emoji cannot straddle them.
    assert segments("a" * 66 + "😀" + "ا" * 66) == SmsLength("UCS-2", 134, 3)


def test_segments_as_dict() -> None:
    assert segments("hi").as_dict() == {"encoding": "GSM-7", "characters": 2, "segments": 1}
