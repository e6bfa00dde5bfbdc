"""Reports which environment it runs in (virtualenv test)."""
import json
import sys

import venv_marker  # only installed in the test virtualenv


def application(environ, start_response):
    try:
        import flask  # noqa: F401  (system dist-packages must not leak in)
        flask_visible = True
    except ImportError:
        flask_visible = False
    body = json.dumps({"prefix": sys.prefix, "base_prefix": sys.base_prefix, "marker": venv_marker.VALUE,
                       "flask_visible": flask_visible}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
