"""A package importable only through --pythonpath."""
