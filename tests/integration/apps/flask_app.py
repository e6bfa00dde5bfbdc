"""A real Flask application, served unchanged by trellis."""
import hashlib
import os
import time

from flask import (Flask, Response, abort, jsonify, redirect, request, send_file, session,
                   stream_with_context, url_for)

app = Flask(__name__)
app.secret_key = "trellis-integration-test-secret"


@app.route("/")
def index():
    return "flask index"


@app.route("/form", methods=["POST"])
def form():
    return jsonify(name=request.form.get("name"), tags=request.form.getlist("tag"),
                   content_type=request.content_type)


@app.route("/upload", methods=["POST"])
def upload():
    f = request.files["file"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   mimetype=f.mimetype, note=request.form.get("note"))


@app.route("/stream")
def stream():
    n = int(request.args.get("n", "5"))
    who = request.args.get("who", "anon")

    @stream_with_context
    def generate():
        # request is still usable inside the generator thanks to stream_with_context
        for i in range(n):
            yield f"{request.path}:{who}:{i}\n"
            time.sleep(0.01)
    return Response(generate(), mimetype="text/plain")


@app.route("/cookie/set")
def cookie_set():
    resp = Response("cookie set")
    resp.set_cookie("plain", request.args.get("v", "value1"), httponly=True)
    return resp


@app.route("/cookie/get")
def cookie_get():
    return jsonify(plain=request.cookies.get("plain"), all=sorted(request.cookies))


@app.route("/session/incr")
def session_incr():
    session["count"] = session.get("count", 0) + 1
    return jsonify(count=session["count"])


@app.route("/api/items", methods=["POST"])
def api_create():
    payload = request.get_json(force=False)
    if not isinstance(payload, dict) or "name" not in payload:
        return jsonify(error="name required"), 400
    return jsonify(id=42, name=payload["name"], qty=payload.get("qty", 1), echo=payload), 201


@app.route("/api/items/<int:item_id>")
def api_get(item_id):
    if item_id != 42:
        abort(404)
    return jsonify(id=42, name="widget")


@app.errorhandler(404)
def not_found(e):
    return jsonify(error="not found", path=request.path), 404


@app.route("/old")
def old():
    return redirect(url_for("new", q="1"))


@app.route("/new")
def new():
    return f"new page q={request.args.get('q')}"


@app.route("/boom")
def boom():
    raise RuntimeError("flask-view-exception-marker")


@app.route("/download/<name>")
def download(name):
    # send_file goes through environ["wsgi.file_wrapper"] and supports Range.
    return send_file(os.path.join(os.environ["APP_STATE_DIR"], name), mimetype="application/octet-stream",
                     conditional=True)


@app.route("/url")
def url_info():
    return jsonify(url=request.url, host=request.host, scheme=request.scheme, path=request.path,
                   full_path=request.full_path, remote_addr=request.remote_addr,
                   url_root=request.url_root)


if __name__ == "__main__":  # must never run under trellis
    app.run()
