"""What must reach the outside world, written in the same transaction as its cause.

``outbox`` holds the rows (enqueue, lease, complete, retry, dead letters); ``changes``
records that a card changed: a change sequence for PassKit's update tags, and the outbox row
that makes its devices and Google Wallet hear of it. Delivering the rows is the
dispatcher's job (:mod:`wallet_service.dispatcher`), which runs outside any request.
"""
