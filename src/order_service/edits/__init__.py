"""Order edits: changing what an order contains before it ships, money accounted for."""
