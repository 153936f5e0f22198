from hypothesis import given
from hypothesis import strategies as st

from order_service.kit import ids


def _by_division(value: int) -> str:
    """Crockford base32 of a 128-bit value, digit by digit: what `new_id` must agree with."""
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(ids._ALPHABET[index])
    return "".join(reversed(chars))


@given(st.integers(min_value=0, max_value=2**128 - 1))
def test_an_id_is_its_value_in_crockford_base32(value: int) -> None:
    ms, random = value >> 80, value & (2**80 - 1)

    def clock() -> int:
        return ms * 1_000_000

    def urandom(n: int) -> bytes:
        return random.to_bytes(n, "big")

    real = (ids.time.time_ns, ids.os.urandom)
    ids.time.time_ns, ids.os.urandom = clock, urandom  # type: ignore[assignment]
    try:
        made = ids.new_id("ord")
    finally:
        ids.time.time_ns, ids.os.urandom = real  # type: ignore[assignment]
    assert made == f"ord_{_by_division(value)}"


def test_ids_sort_by_creation_and_differ() -> None:
    made = [ids.new_id("li") for _ in range(1000)]
    assert len(set(made)) == 1000
    assert all(len(i) == 29 and i.startswith("li_") for i in made)
    assert [i[:13] for i in made] == sorted(i[:13] for i in made)
