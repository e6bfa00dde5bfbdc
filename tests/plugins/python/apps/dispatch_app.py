"""Routes to the Flask or the Django app by path prefix (one interpreter)."""
import flask_app
import django_app


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/django/"):
        environ["PATH_INFO"] = path[len("/django"):]
        return django_app.application(environ, start_response)
    return flask_app.application(environ, start_response)
