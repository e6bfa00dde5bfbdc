"""A minimal Flask application (Debian's python3-flask) for bench/memory.sh."""
from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello World!"


application = app
