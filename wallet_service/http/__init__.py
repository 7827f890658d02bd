"""What every router shares: typed dependencies (session, clock, caller), RFC 9457 problem
responses, and pagination parameters. Routers live in ``api/``, ``web/`` and each context's
``router`` module; this package imports none of them."""
