-- The statements one `POST /v1/orders` (3 line items, paid, Idempotency-Key, no webhook
-- endpoint subscribed) sends, in the same order and round trips, with the same row sizes
-- (the Idempotency-Key lock and the API-key lookup are one statement; so are the order, its
-- lines, payment and timeline entry; and so are the event, its fan-out to the webhook
-- endpoints that want it and the Idempotency-Key record).
-- Run by bench/run.py: pgbench -M prepared -D key_hash=... -D scope=... -D order_json=...
\set r random(1, 9000000000000000000)
BEGIN;
SELECT pg_try_advisory_xact_lock(:r), (SELECT ROW(id, name, role, key_hash) FROM api_keys
  WHERE key_hash = :key_hash AND revoked_at IS NULL);
SELECT fingerprint, method, path, response_status, response_headers, response_body,
       expires_at
  FROM idempotency_keys WHERE scope = :scope AND key = 'pgb' || :r;
WITH i0 AS (
  INSERT INTO line_items (id, order_id, position, sku, title, variant_title, product_id,
      quantity, unit_price, refundable, requires_shipping, fulfilled_quantity, shipped_quantity,
      refunded_quantity, refund_pending_quantity, restocked_quantity)
    VALUES ('li_pgb' || :r || '_0', 'ord_pgb' || :r, 0, 'TEE-M', 'Tee', NULL, NULL, 2, 1999,
            true, true, 0, 0, 0, 0, 0),
           ('li_pgb' || :r || '_1', 'ord_pgb' || :r, 1, 'MUG', 'Mug', NULL, NULL, 1, 1200,
            true, true, 0, 0, 0, 0, 0),
           ('li_pgb' || :r || '_2', 'ord_pgb' || :r, 2, 'CAP', 'Cap', NULL, NULL, 1, 1500,
            true, true, 0, 0, 0, 0, 0)
), i1 AS (
  INSERT INTO transactions (id, order_id, kind, status, amount, fee, currency, gateway,
      reference, error_message, created_at)
    VALUES ('txn_pgb' || :r, 'ord_pgb' || :r, 'sale', 'success', 7198, 0, 'USD', 'stripe',
      'ch_bench', NULL, now())
), i2 AS (
  INSERT INTO order_timeline (order_id, action, message, actor_type, actor_id, actor_name,
      actor_role, data, created_at)
    VALUES ('ord_pgb' || :r, 'order.created', 'Order placed: 3 line(s), total 7198 USD.',
      'api_key', 'key_bench', 'bench admin', 'admin',
      '{"total": 7198, "financial_status": "paid", "reordered_from_id": null}', now())
)
INSERT INTO orders (id, number, status, financial_status, fulfillment_status, customer_id,
    customer_email, customer_name, shipping_address, billing_address, currency,
    taxes_included, shipping_lines, tax_lines, discounts, subtotal, shipping_total, tax_total,
    discount_total, total, total_authorized, total_paid, total_refunded, total_fees,
    total_refund_pending, shipping_refunded, shipping_refund_pending, payment_gateway,
    payment_reference, note, tags, source_name, processed_at, estimated_dispatch_date,
    delivered_at, cancelled_at, cancel_reason, cancelled_by, reordered_from_id, reorder_ids,
    archived_at, closed_at, version, created_at, updated_at)
  VALUES ('ord_pgb' || :r, nextval('order_number_seq'), 'open', 'paid', 'unfulfilled', NULL,
    'bench@example.com', 'Bench', NULL, NULL, 'USD', false,
    '[{"title": "Standard", "price": 500, "code": null}]', '[]', '[]', 6698, 500, 0, 0, 7198,
    7198, 7198, 0, 0, 0, 0, 0, 'stripe', 'ch_bench', NULL, '{}', NULL, now(),
    current_date + 2, NULL, NULL, NULL, NULL, NULL, '{}', NULL, NULL, 1, now(), now())
  RETURNING number;
WITH event AS (
  INSERT INTO events (id, type, order_id, data, created_at)
    VALUES ('evt_pgb' || :r, 'order.created', 'ord_pgb' || :r, :event_json, now())
    RETURNING id, type, order_id, sequence, created_at
), delivery AS (
  INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, order_id,
      sequence, status, attempt_count, next_attempt_at, created_at, updated_at)
    SELECT new_id('whd'), e.id, event.id, event.type, event.order_id, event.sequence,
           'pending', 0, event.created_at, event.created_at, event.created_at
      FROM webhook_endpoints e, event
     WHERE e.enabled AND (e.events @> jsonb_build_array(event.type) OR e.events @> '["*"]')
    RETURNING pg_notify('order_service_webhooks', '')
)
INSERT INTO idempotency_keys (scope, key, fingerprint, method, path, response_status,
    response_headers, response_body, expires_at)
  VALUES (:scope, 'pgb' || :r, md5(:r::text) || md5(:r::text), 'POST', '/v1/orders', 201,
    '{"content-type": "application/json", "location": "/v1/orders/x", "etag": "\"1\""}',
    convert_to(:order_json, 'UTF8'), now() + interval '24 hours');
END;
