"""Channels 1.x projects, idioms and test semantics, run unchanged (issue 9)."""
