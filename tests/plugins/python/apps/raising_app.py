import helper_that_does_not_exist  # noqa: F401  (load test: ImportError at import time)
