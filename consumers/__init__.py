"""Kafka in and out: the consumers that turn other systems' messages into commands (inbound,
consume), the relay that publishes the ledger's own events from the log (relay), and what their
processes share (kafka, rounds). main/processes.py puts them together as processes."""
