"""Field types shared by every domain's request schemas."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

import email_validator
from email_validator import EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from order_service.kit import money, times, timestamps

NOT_JSON_INTEGER = "not_json_integer"
"""The `type` of an `errors` entry for a number written with a fraction or an exponent."""


def _json_integer(value: object) -> object:
    """Money and counts are exact: a number written with a fraction or an exponent (`1.0`,
    `1e2`, `19.99`) is refused, though JSON Schema counts `1.0` as an integer, because a JSON
    parser reads it as a float (`19.999999999999999999` is 20.0 by then)."""
    if isinstance(value, float):
        raise PydanticCustomError(
            NOT_JSON_INTEGER, "must be a JSON integer, written without a fraction or exponent"
        )
    return value


Amount = Annotated[
    int, Field(ge=0, le=money.MAX_UNIT_AMOUNT, strict=True), BeforeValidator(_json_integer)
]
"""Money in minor units of the order's currency: a non-negative JSON integer."""

Quantity = Annotated[int, Field(ge=1, le=10_000, strict=True), BeforeValidator(_json_integer)]
"""Units of a line item: 1 to 10,000."""

NewQuantity = Annotated[int, Field(ge=0, le=10_000, strict=True), BeforeValidator(_json_integer)]
"""A line item's new quantity in an edit: 0 (removes the line) to 10,000."""

# Whitespace spelled out: every character Python's strip() removes plus what JSON Schema's
# (ECMAScript) `\s` means, so the documented pattern, the validator and stripping agree.
_BLANK = (
    r"\x00\t\n\x0b\x0c\r \x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f"
    r"\u3000\ufeff"
)
SOME_TEXT = rf"^[^\x00]*[^{_BLANK}][^\x00]*$"
"""Not blank (the value is stripped of surrounding whitespace) and no NUL."""
SEARCH_TEXT = rf"^[^\x00]*[^#{_BLANK}][^\x00]*$"
"""Something to search for: more than `#` and whitespace, and no NUL."""

ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255, pattern=SOME_TEXT)
]
OptionalText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None
Note = Annotated[str, StringConstraints(max_length=5000)]


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _rfc3339(value: object) -> object:
    """Only the documented form: pydantic would also take Unix times (`0`, `"-4376"`)."""
    if not (isinstance(value, datetime) or (isinstance(value, str) and _RFC3339.match(value))):
        raise ValueError("must be an RFC 3339 timestamp such as 2026-11-20T10:00:00Z")
    return value


def _iso_date(value: object) -> object:
    if not (isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.fullmatch(value))):
        raise ValueError("must be a date such as 2026-11-20")
    return value


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in no year Python has
        raise ValueError("must be between years 1 and 9999 in UTC") from None


_TOO_EARLY = f"must not be before {times.rfc3339(timestamps.EARLIEST)}"


def _since_earliest(value: datetime) -> datetime:
    if value < timestamps.EARLIEST:
        raise PydanticCustomError(timestamps.OUT_OF_RANGE, _TOO_EARLY)
    return value


def _date_since_earliest(value: date) -> date:
    if value < timestamps.EARLIEST.date():
        raise PydanticCustomError(timestamps.OUT_OF_RANGE, _TOO_EARLY)
    return value


UtcDatetime = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    AfterValidator(_to_utc),
    AfterValidator(_since_earliest),
]
"""An RFC 3339 timestamp with an offset, not before 2000 (`timestamps`); stored and shown in
UTC."""

IsoDate = Annotated[date, BeforeValidator(_iso_date), AfterValidator(_date_since_earliest)]
"""A calendar date, `YYYY-MM-DD`, not before 2000."""


# The storefront owns its customers' addresses; this service checks that they are well
# formed, as `format: email` promises, and does not second-guess reserved domains (.test,
# .local, ...), which email-validator would otherwise refuse. Its documented switch is this
# module-level list; nothing else in the service validates email.
email_validator.SPECIAL_USE_DOMAIN_NAMES.clear()


_ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN_EMAIL = re.compile(
    rf"(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z]{{2,63}}",
    re.ASCII,
)
"""The common address: a dot-atom ASCII local part at a lower-case ASCII host name whose
top-level label is letters, which email-validator accepts as it is
(`tests/test_schema_types.py` holds the two to that). `_plain` leaves to email-validator
what the pattern cannot say: lengths, `--` (punycode, hyphen rules) and the mailbox names
it lower-cases."""


_LOWERED = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def _plain(value: str) -> bool:
    match = _PLAIN_EMAIL.fullmatch(value) if len(value) <= 254 else None
    if match is None or "--" in value:
        return False
    local = match["local"]
    return len(local) <= 64 and local.lower() not in _LOWERED


def _email(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if _plain(value):  # far cheaper than email-validator, on every order creation
        return value
    try:
        checked = validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:
        raise ValueError(f"not a valid email address: {exc}") from exc
    return str(checked.normalized)


Email = Annotated[
    str,
    PlainValidator(_email),
    WithJsonSchema({"type": "string", "format": "email", "maxLength": 254}),
]
"""An email address, syntax-checked and normalised (no DNS look-up): what `format: email`
promises, special-use domains such as `.test` included."""
