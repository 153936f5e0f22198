"""Request and response examples shown in the OpenAPI docs."""

from __future__ import annotations

from typing import Any

_ADDRESS = {
    "name": "Ann Example",
    "line1": "1 Main St",
    "line2": None,
    "city": "Oslo",
    "region": None,
    "postal_code": "0150",
    "country": "NO",
}

CREATE_EXAMPLE: dict[str, Any] = {
    "paid": {
        "summary": "A paid order with shipping and a discount",
        "value": {
            "customer": {"email": "ann@example.com", "name": "Ann Example", "id": "c_1"},
            "currency": "USD",
            "line_items": [
                {"sku": "TEE-M", "title": "Tee", "quantity": 2, "unit_price": 1999},
                {
                    "sku": "GIFT-CARD",
                    "title": "Gift card",
                    "quantity": 1,
                    "unit_price": 5000,
                    "refundable": False,
                    "requires_shipping": False,
                },
            ],
            "shipping_lines": [{"title": "Standard", "price": 500}],
            "tax_lines": [{"title": "Sales tax", "amount": 800}],
            "discounts": [{"code": "WELCOME", "amount": 1000}],
            "shipping_address": _ADDRESS,
            "billing_address": _ADDRESS,
            "payment": {"status": "paid", "gateway": "stripe", "reference": "ch_1"},
            "note": "leave at door",
            "tags": ["vip"],
        },
    },
    "imported": {
        "summary": "An imported order placed earlier, paid in yen (no minor unit)",
        "value": {
            "customer": {"email": "ken@example.jp"},
            "currency": "JPY",
            "line_items": [{"sku": "MUG", "title": "Mug", "quantity": 1, "unit_price": 1800}],
            "payment": {"status": "authorized", "gateway": "adyen", "reference": "psp_9"},
            "processed_at": "2026-11-20T10:00:00Z",
        },
    },
}

ORDER_EXAMPLE: dict[str, Any] = {
    "id": "ord_01jd2m3n4p5q6r7s8t9v0w1x2y",
    "number": 1001,
    "status": "open",
    "financial_status": "paid",
    "fulfillment_status": "unfulfilled",
    "customer": {"id": "c_1", "email": "ann@example.com", "name": "Ann Example"},
    "shipping_address": _ADDRESS,
    "billing_address": _ADDRESS,
    "line_items": [
        {
            "id": "li_01jd2m3n4p5q6r7s8t9v0w1x2z",
            "sku": "TEE-M",
            "title": "Tee",
            "variant_title": None,
            "product_id": None,
            "quantity": 2,
            "unit_price": 1999,
            "total": 3998,
            "refundable": True,
            "requires_shipping": True,
            "fulfilled_quantity": 0,
            "shipped_quantity": 0,
            "refunded_quantity": 0,
            "restocked_quantity": 0,
        }
    ],
    "shipping_lines": [{"title": "Standard", "code": None, "price": 500}],
    "tax_lines": [],
    "discounts": [],
    "currency": "USD",
    "currency_exponent": 2,
    "taxes_included": False,
    "subtotal": 3998,
    "shipping_total": 500,
    "tax_total": 0,
    "discount_total": 0,
    "total": 4498,
    "total_authorized": 4498,
    "total_paid": 4498,
    "total_refunded": 0,
    "total_fees": 0,
    "net_paid": 4498,
    "payment_gateway": "stripe",
    "payment_reference": "ch_1",
    "note": None,
    "tags": [],
    "source_name": "web",
    "processed_at": "2026-11-20T10:00:00Z",
    "estimated_dispatch_date": "2026-11-24",
    "delivered_at": None,
    "customer_cancellable_until": "2026-11-20T11:00:00Z",
    "cancelled_at": None,
    "cancel_reason": None,
    "archived_at": None,
    "closed_at": None,
    "version": 1,
    "created_at": "2026-11-20T10:00:00Z",
    "updated_at": "2026-11-20T10:00:00Z",
}
