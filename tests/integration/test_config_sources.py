"""The same settings from the command line, an ini file ([uwsgi] or
[trellis]) and the environment resolve to the same configuration, and a
uWSGI-style ini file serves like the equivalent command line."""
import os
import subprocess

from conftest import BIN, TEST_PLUGIN_DIR, Server, free_port, http_get


def show_config(*args, env=None, cwd=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("TRELLIS_")}
    e.update(env or {})
    r = subprocess.run([str(BIN), *args, "--show-config"], capture_output=True, text=True, env=e, cwd=cwd,
                       timeout=20)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_command_line_ini_and_environment_agree(tmp_path):
    port = free_port()
    cli = show_config("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp", "--plugin", "http",
                      "--http-socket", f"127.0.0.1:{port}", "--processes", "3", "--master", "--threads", "2",
                      "--max-requests", "100")
    uwsgi_ini = tmp_path / "app.ini"
    uwsgi_ini.write_text(f"""[uwsgi]
plugin-dir = {TEST_PLUGIN_DIR}
plugins = testapp
http-socket = 127.0.0.1:{port}
processes = 3
master = true
threads = 2
max-requests = 100
""")
    trellis_ini = tmp_path / "trellis.ini"
    trellis_ini.write_text(uwsgi_ini.read_text().replace("[uwsgi]", "[trellis]").replace("plugins = testapp",
                                                                                       "plugins = testapp,http"))
    env = {
        "TRELLIS_PLUGIN_DIR": str(TEST_PLUGIN_DIR), "TRELLIS_PLUGINS": "testapp,http",
        "TRELLIS_HTTP_SOCKET": f"127.0.0.1:{port}", "TRELLIS_PROCESSES": "3", "TRELLIS_MASTER": "true",
        "TRELLIS_THREADS": "2", "TRELLIS_MAX_REQUESTS": "100",
    }
    assert "processes = 3" in cli and f"http-socket = 127.0.0.1:{port}" in cli
    # The [uwsgi] file names no protocol plugin, as uWSGI has HTTP built in;
    # trellis loads http for its http-socket option.
    assert sorted(show_config(str(uwsgi_ini)).splitlines()) == sorted(cli.splitlines())
    assert sorted(show_config("--ini", str(trellis_ini)).splitlines()) == sorted(cli.splitlines())
    assert sorted(show_config(env=env).splitlines()) == sorted(cli.splitlines())


def test_precedence_command_line_over_environment_over_ini(tmp_path):
    ini = tmp_path / "p.ini"
    ini.write_text("[trellis]\nprocesses = 2\nthreads = 2\nharakiri = 7\n")
    out = show_config("--ini", str(ini), "--processes", "5", env={"TRELLIS_THREADS": "4"})
    assert "processes = 5" in out
    assert "threads = 4" in out
    assert "harakiri = 7" in out


def test_magic_variables_expand(tmp_path):
    d = tmp_path / "site"
    d.mkdir()
    ini = d / "myapp.ini"
    ini.write_text("[uwsgi]\nplugins = python3\nwsgi-file = %dwsgi.py\npidfile = /tmp/%n.pid\nlogto = %p.log\n")
    (d / "wsgi.py").write_text("def application(e, s):\n    s('200 OK', [])\n    return [b'ok']\n")
    out = show_config(str(ini))
    assert f"wsgi-file = {d}/wsgi.py" in out
    assert "pidfile = /tmp/myapp.pid" in out
    assert f"logto = {ini}.log" in out


def test_uwsgi_ini_file_serves_like_the_command_line(tmp_path):
    port = free_port()
    ini = tmp_path / "serve.ini"
    ini.write_text(f"[uwsgi]\nplugin-dir = {TEST_PLUGIN_DIR}\nplugins = testapp\n"
                   f"http-socket = 127.0.0.1:{port}\nprocesses = 2\nmaster = true\nvacuum = true\n"
                   "enable-threads = true\n")
    s = Server([str(ini)], tmp_path, port=port, http=False)
    try:
        assert http_get(port, "/") == (200, b"Hello World!")
        assert len(s.workers()) == 2
        # uWSGI options trellis does not have are reported, not fatal.
        assert "enable-threads" in s.log()
    finally:
        assert s.stop() == 0


def test_ini_errors_name_file_and_line(tmp_path):
    ini = tmp_path / "bad.ini"
    ini.write_text("[trellis]\nprocesses = 2\nthis line is broken\n")
    r = subprocess.run([str(BIN), "--ini", str(ini)], capture_output=True, text=True, timeout=20)
    assert r.returncode != 0
    assert f"{ini}:3" in r.stderr
    r = subprocess.run([str(BIN), "--ini", str(tmp_path / "missing.ini")], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode != 0 and "missing.ini" in r.stderr


HELLO_APP = "def application(e, s):\n    s('200 OK', [('Content-Type', 'text/plain')])\n    return [b'hi']\n"
ENV_APP = ("import os\n\n\ndef application(environ, start_response):\n"
           "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
           "    return [os.environ.get('GREETING', 'unset').encode()]\n")


def get_from_ini(tmp_path, app_source, ini_lines):
    """Serves app_source from an ini file made of ini_lines ({port} and {app}
    filled in) and returns what GET / answers."""
    app = tmp_path / "app.py"
    app.write_text(app_source)
    port = free_port()
    ini = tmp_path / "app.ini"
    ini.write_text("\n".join(ini_lines).format(port=port, app=app) + "\n")
    s = Server([str(ini)], tmp_path, port=port, http=False)
    try:
        return http_get(port, "/")
    finally:
        s.stop()


def test_env_option_reaches_the_application(tmp_path):
    assert get_from_ini(tmp_path, ENV_APP, ["[uwsgi]", "plugins = python3", "http-socket = 127.0.0.1:{port}",
                                           "wsgi-file = {app}", "env = GREETING=hello from ini"]) == \
        (200, b"hello from ini")
    r = subprocess.run([str(BIN), "--env", "NOEQUALS", "--show-config"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0  # show-config does not apply it
    r = subprocess.run([str(BIN), "--plugin", "python", "--env", "NOEQUALS", "--wsgi-file", str(tmp_path / "app.py"),
                        "--plugin", "http", "--http-socket", f"127.0.0.1:{free_port()}"],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode != 0 and "invalid --env 'NOEQUALS'" in r.stderr


def test_common_uwsgi_ini_spellings(tmp_path):
    # uWSGI tutorials write `http = :PORT` and name versioned Python plugins.
    assert get_from_ini(tmp_path, HELLO_APP, ["[uwsgi]", "plugins = python39", "http = 127.0.0.1:{port}",
                                             "wsgi-file = {app}", "master = true"]) == (200, b"hi")


def test_socket_with_protocol_http(tmp_path):
    assert get_from_ini(tmp_path, HELLO_APP, ["[uwsgi]", "plugins = python3", "socket = 127.0.0.1:{port}",
                                             "protocol = http", "wsgi-file = {app}"]) == (200, b"hi")


def test_uwsgi_environment_variables(tmp_path):
    # Container images built for uWSGI configure it with UWSGI_* variables.
    out = show_config("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp",
                      env={"UWSGI_PROCESSES": "3", "UWSGI_HTTP_SOCKET": "127.0.0.1:9", "UWSGI_ENABLE_THREADS": "1",
                           "UWSGI_THREADS": "2", "TRELLIS_THREADS": "4"})
    assert "processes = 3" in out
    assert "http-socket = 127.0.0.1:9" in out and "plugin = http" in out
    assert "threads = 4" in out  # TRELLIS_* wins over UWSGI_*
