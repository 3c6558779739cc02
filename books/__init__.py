"""The books: proving a period by replaying the log into fresh state, reconciling it with the
read models, and closing it (the period close use case, over the domain and the projections)."""
