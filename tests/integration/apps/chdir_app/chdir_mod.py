"""Importable because --chdir makes this directory the working directory."""
import json
import os


def application(environ, start_response):
    with open("data.txt") as f:  # relative: only works from the chdir directory
        data = f.read().strip()
    body = json.dumps({"cwd": os.getcwd(), "data": data}).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
