"""Security helpers for consumers (the Channels 1.x ``channels.security`` API)."""
