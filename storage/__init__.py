"""Where goldsplit keeps its data: the SQL adapter, the event store recorders, the tables of
keyed answers and of the consumers' counts."""
