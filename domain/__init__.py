"""The goldsplit domain: aggregates, policies, the allocation arithmetic and the Application."""
