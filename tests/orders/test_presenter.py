"""The order schemas show the models' columns by name: a field of `OrderOut` or
`LineItemOut` that `presenter` does not compute must be a column of the same name."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from order_service.orders import presenter
from order_service.orders.models import LineItem, Order
from order_service.orders.schemas import LineItemOut, OrderOut


@pytest.mark.parametrize(
    ("schema", "model", "computed"),
    [
        (OrderOut, Order, presenter.ORDER_COMPUTED),
        (LineItemOut, LineItem, presenter.LINE_COMPUTED),
    ],
)
def test_every_stored_field_is_a_column(
    schema: type[BaseModel], model: Any, computed: tuple[str, ...]
) -> None:
    columns = set(model.__table__.c.keys())
    copied = [name for name in schema.model_fields if name not in computed]
    assert [name for name in copied if name not in columns] == []
    # and nothing is computed that the schema does not show
    assert set(computed) <= set(schema.model_fields)
