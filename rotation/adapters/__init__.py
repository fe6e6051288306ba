"""Adapters: the only code that does I/O. Each implements a port over a real client."""
