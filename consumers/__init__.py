"""Kafka consumers that turn external messages into commands, and the relay of our events to Kafka.

Empty in the walking skeleton; the production backbone (issue 5) fills it.
"""
