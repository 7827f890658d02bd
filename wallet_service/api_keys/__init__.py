"""POS API keys: how tills and e-commerce back ends call the API."""
