"""Authentication and authorisation: password hashing, access tokens, POS API keys, roles."""
