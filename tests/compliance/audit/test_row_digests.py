"""The bulk digest path (`anchors._row_digests`, issue 24) gives each row the digest
`row_digest` gives it, which is what `verify` recomputes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from compliance.audit.anchors import _row_digests, row_digest

_values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                    st.floats(allow_nan=False), st.binary(max_size=4),
                    st.datetimes(timezones=st.just(UTC)), st.datetimes(),
                    st.decimals(allow_nan=False, allow_infinity=False, places=2))


@given(st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k != "id"), _values,
                       max_size=6), st.integers(1, 10**9))
def test_the_bulk_digest_is_row_digest(row: dict[str, object], rid: int) -> None:
    columns = ["id", *row]
    [(got_id, digest)] = list(_row_digests(columns, [(rid, *row.values())]))
    assert got_id == rid and digest == row_digest({"id": rid, **row})


def test_types_it_normalizes_as_row_digest_does() -> None:
    row = {"id": 3, "at": datetime(2026, 1, 2, 3, 4, 5), "b": b"x", "d": Decimal("1.50"),
           "flag": True, "none": None}
    assert next(_row_digests(list(row), [tuple(row.values())]))[1] == row_digest(row)
