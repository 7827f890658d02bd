"""``Idempotency-Key`` records: a retried mutating call gets the first answer back."""
