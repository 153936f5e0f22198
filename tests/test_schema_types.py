"""The email type's shortcut (`_plain`) against email-validator, which it stands in for."""

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from order_service.kit.schema_types import Email, _plain

_EMAIL = TypeAdapter(Email)

# Parts near the shortcut's edges: case, dots, hyphens, digits, punycode, the specials of
# an atom and characters outside it, mailbox names email-validator lower-cases, long labels.
_LOCAL_CHUNKS = st.sampled_from(
    ["a", "Z", "0", ".", "..", "+", "-", "_", "!", "#", "'", "`", "~", "|", "{", "}", "=",
     "?", "^", "%", "/", "*", "&", "$", " ", '"', "(", "\\", ",", "é", "postmaster", "abuse",
     "Abuse", "x" * 30]
)  # fmt: skip
_DOMAIN_CHUNKS = st.sampled_from(
    ["a", "B", "9", ".", "..", "-", "--", "xn--", "_", "com", "COM", "co", "1", "example",
     "test", "local", "localhost", "é", " ", "x" * 40, "y" * 63]
)  # fmt: skip


def _parts(chunks: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.lists(chunks, min_size=0, max_size=8).map("".join)


@st.composite
def addresses(draw: st.DrawFn) -> str:
    local = draw(_parts(_LOCAL_CHUNKS))
    domain = draw(_parts(_DOMAIN_CHUNKS))
    tld = draw(st.sampled_from(["", ".com", ".io", ".Org", ".c", ".123", ".x1", ".museum"]))
    return f"{local}@{domain}{tld}"


@given(addresses() | st.text(max_size=40))
@settings(max_examples=3000)
@example("bench@example.com")
@example("Postmaster@example.com")
@example("a." * 40 + "b@example.com")
@example("a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 57 + ".com")
@example("a@ab--cd.com")
@example("a@xn--bcher-kva.de")
@example("a@example.com\n")
def test_what_the_shortcut_accepts_email_validator_accepts_unchanged(value: str) -> None:
    if not _plain(value):
        return
    try:
        checked = validate_email(value, check_deliverability=False, globally_deliverable=False)
    except EmailNotValidError as exc:  # pragma: no cover - the failure this test looks for
        pytest.fail(f"{value!r}: accepted by the shortcut, refused by email-validator: {exc}")
    assert checked.normalized == value


@pytest.mark.parametrize(
    "value",
    [
        "bench@example.com",
        "first.last+tag@mail.example.co.uk",
        "o'brien@x-y.example.org",
        "someone@shop.test",  # special-use domains are the storefront's business
    ],
)
def test_common_addresses_take_the_shortcut(value: str) -> None:
    assert _plain(value)
    assert _EMAIL.validate_python(value) == value


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("Bench@Example.COM", "Bench@example.com"),
        ("POSTMASTER@example.com", "postmaster@example.com"),
        ("a@bücher.de", "a@bücher.de"),
        ("user@Sub.Example.com", "user@sub.example.com"),
    ],
)
def test_the_rest_is_email_validators(value: str, normalized: str) -> None:
    assert not _plain(value)
    assert _EMAIL.validate_python(value) == normalized


@pytest.mark.parametrize(
    "value", ["a..b@example.com", "a b@example.com", "@example.com", "a@-x.com", 5]
)
def test_invalid_addresses_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        _EMAIL.validate_python(value)
