"""A tiny Flask application for the framework tests."""
from flask import Flask, request, jsonify
import markupsafe

app = Flask(__name__)


@app.route("/hello")
def hello():
    return "Hello " + request.args.get("name", "world")


@app.route("/json", methods=["POST"])
def echo_json():
    return jsonify(got=request.get_json(), speedups=markupsafe.escape.__module__)


@app.route("/form", methods=["POST"])
def form():
    f = request.files["upload"]
    return jsonify(field=request.form["field"], filename=f.filename, size=len(f.read()))


@app.route("/fail")
def fail():
    raise RuntimeError("flask view failed")


application = app
