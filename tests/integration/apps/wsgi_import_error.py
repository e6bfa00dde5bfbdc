"""Deliberately broken: raises at import time."""
raise RuntimeError("deliberate-import-time-failure")
