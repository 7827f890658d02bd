"""What a member's card shows, built from the database: the neutral ``CardState`` that the
Apple and Google adapters render, and the customer's card page."""
