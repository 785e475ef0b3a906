"""Accounts: the list, the account page, debt items, status changes, priority, export.

- ``models``: the typed records returned (and shown by the API).
- ``query``: the list's filters and order, shared by the list and the export.
- ``repository``, ``contacts``, ``detail``: reads, always scoped by organization.
- ``status``: :func:`~backoffice.accounts.status.change_status`, the one way to change
  a status, and its transition table.
- ``ledger`` (pure) and ``debt_items``: the pending-balance rule and item changes.
- ``scoring`` (pure) and ``priority``: the 0-100 call-first score and its storage.
- ``export``: the list as streamed CSV.
- ``service``: the use cases above, each owning its transaction.
"""
