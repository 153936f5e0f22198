"""ISO 4217 currencies and their minor-unit exponents. Amounts are always integers."""

from __future__ import annotations

from functools import cache

from iso4217 import Currency

# Codes that are not money a shop can charge in: funds codes (settlement and indexed units
# such as USN, "US Dollar next day", or CLF, Chile's inflation-indexed unit), metals, units
# of account, testing and "no currency".
_FUNDS = {"BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI", "UYW"}
_METALS = {"XAU", "XAG", "XPT", "XPD"}
_UNITS_OF_ACCOUNT = {"XAD", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"}
_NOT_CHARGEABLE = frozenset(_FUNDS | _METALS | _UNITS_OF_ACCOUNT | {"XTS", "XXX"})

MAX_UNIT_AMOUNT = 100_000_000_000
"""Upper bound of one price or amount in minor units: large enough for any real order,
small enough that 250 lines x 10,000 units never overflow a 64-bit column."""


CHARGEABLE = tuple(sorted(c.value for c in Currency if c.value not in _NOT_CHARGEABLE))
"""Every currency an order may be in."""


@cache
def exponent(code: str) -> int:
    """Number of digits after the decimal separator: 2 for USD, 0 for JPY, 3 for KWD."""
    value = Currency(code).exponent
    return int(value) if value is not None else 0


def is_chargeable(code: str) -> bool:
    if code in _NOT_CHARGEABLE:
        return False
    try:
        Currency(code)
    except ValueError:
        return False
    return True


def format_amount(amount: int, code: str) -> str:
    """`1999 USD` → `19.99`, `500 JPY` → `500`, `1500 KWD` → `1.500`."""
    digits = exponent(code)
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{minor:0{digits}d}"


def display(amount: int, code: str) -> str:
    """Money in text for people (timeline messages, problem details): major units with the
    currency, `16800 USD` → `168.00 USD`, `500 JPY` → `500 JPY`, `1250 KWD` → `1.250 KWD`."""
    return f"{format_amount(amount, code)} {code}"
