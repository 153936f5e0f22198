"""Reports for ops: cancellations, refunds, fulfilment; JSON or CSV."""
