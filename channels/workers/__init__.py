"""The worker: receives messages, routes them, runs consumers."""
