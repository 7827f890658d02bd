"""Members' loyalty accounts, persisted: posting to the append-only ledger, the cached
balances and tier, pass versions, and the in-process ledger cache.

Application services: used by every router, the worker and the CLI. They flush, never
commit; the request or job that owns the transaction commits.
"""
