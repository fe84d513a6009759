"""The scale-out executor: `taxiway dispatcher` runs tasks on long-lived actors of a Ray cluster.

Nothing here is imported by `taxiway serve` or the CLI at start-up; only the dispatcher imports
`ray` (an optional extra: pip install 'taxiway[ray]').
"""
