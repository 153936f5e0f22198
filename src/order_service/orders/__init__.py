"""Orders: creation, reading, editing, payments, archive and the order timeline."""
