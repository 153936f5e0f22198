"""The outbox: every event the service emits, written in the transaction of its change."""
