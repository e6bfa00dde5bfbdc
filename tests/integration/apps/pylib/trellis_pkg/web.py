"""`--module trellis_pkg.web:app` (and `--callable` variants)."""
import json
import os
import sys


def _reply(start_response, name, environ):
    body = json.dumps({"callable": name, "cwd": os.getcwd(), "module": __name__,
                       "sys_path_head": sys.path[:3], "path": environ["PATH_INFO"]}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def app(environ, start_response):
    return _reply(start_response, "app", environ)


def application(environ, start_response):
    return _reply(start_response, "application", environ)


class Holder:
    @staticmethod
    def nested(environ, start_response):
        return _reply(start_response, "Holder.nested", environ)
