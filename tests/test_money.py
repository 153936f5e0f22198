"""Money in text for people: major units with the currency's own exponent."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from order_service.kit import money


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        (16800, "USD", "168.00 USD"),
        (3895, "EUR", "38.95 EUR"),
        (5, "USD", "0.05 USD"),
        (0, "USD", "0.00 USD"),
        (-1999, "USD", "-19.99 USD"),
        (-5, "EUR", "-0.05 EUR"),
        (500, "JPY", "500 JPY"),
        (-500, "JPY", "-500 JPY"),
        (1250, "KWD", "1.250 KWD"),
        (7, "KWD", "0.007 KWD"),
        (money.MAX_UNIT_AMOUNT, "USD", "1000000000.00 USD"),
    ],
)
def test_display_writes_major_units(amount: int, currency: str, text: str) -> None:
    assert money.display(amount, currency) == text


@given(
    amount=st.integers(-money.MAX_UNIT_AMOUNT, money.MAX_UNIT_AMOUNT),
    currency=st.sampled_from(money.CHARGEABLE),
)
def test_display_reads_back_as_the_amount(amount: int, currency: str) -> None:
    text = money.display(amount, currency)
    number, code = text.split(" ")
    assert code == currency
    digits = money.exponent(currency)
    pattern = r"-?\d+" + (rf"\.\d{{{digits}}}" if digits else "")
    assert re.fullmatch(pattern, number), text
    assert Decimal(number).scaleb(digits) == amount
