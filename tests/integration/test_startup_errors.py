"""Every start-up failure is one clear line and a non-zero exit."""
import re
import subprocess

from conftest import BIN, TEST_PLUGIN_DIR, free_port


def run(*args, env=None, timeout=20):
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, timeout=timeout, env=env)


def test_version():
    r = run("--version")
    assert r.returncode == 0
    assert r.stdout.startswith("trellis ")
    major, minor = host_abi()
    assert f"plugin ABI {major}.{minor}" in r.stdout


def test_missing_plugin_lists_the_directories_searched():
    r = run("--plugin", "nosuch", "--plugin-dir", "/nonexistent-dir")
    assert r.returncode != 0
    assert "plugin 'nosuch' not found" in r.stderr
    assert "/nonexistent-dir/nosuch_plugin.so" in r.stderr
    assert "lib/trellis/plugins/nosuch_plugin.so" in r.stderr


def test_not_a_plugin():
    r = run("--plugin", str(TEST_PLUGIN_DIR / "no_entry_plugin.so"))
    assert r.returncode != 0
    assert "is not a trellis plugin" in r.stderr


def host_abi():
    """(major, minor) as `trellis --version` reports them."""
    m = re.search(r"plugin ABI (\d+)\.(\d+)", run("--version").stdout)
    return int(m.group(1)), int(m.group(2))


def test_abi_mismatch_shows_both_sides():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "wrong_abi")
    assert r.returncode != 0
    major, minor = host_abi()
    assert "ABI 99.0" in r.stderr and f"provides ABI {major}.{minor}" in r.stderr


def test_plugin_for_a_newer_abi_minor_is_refused():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "newer_minor")
    assert r.returncode != 0
    major, minor = host_abi()
    assert f"ABI {major}.{minor + 1}" in r.stderr and f"provides ABI {major}.{minor}" in r.stderr, r.stderr


def test_a_plugin_from_another_toolchain_loads_and_says_so():
    # The boundary is C since ABI 2: another compiler or standard library is
    # no reason to refuse; --plugins-list shows what each was built with.
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "other_toolchain", "--plugins-list")
    assert r.returncode == 0, r.stderr
    row = next(l for l in r.stdout.splitlines() if l.startswith("other_toolchain"))
    assert "loaded" in row and "othercc-99/otherlib-1" in row, r.stdout


def test_plugin_that_throws_during_init():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "throwing", "--plugins-list")
    assert r.returncode != 0
    assert "plugin 'throwing'" in r.stderr and "failed to initialise" in r.stderr


def test_plugins_list_shows_kind_and_version():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "good,testapp", "--plugin", "good", "--plugins-list")
    assert r.returncode == 0, r.stderr
    lines = [l.split() for l in r.stdout.splitlines()]
    rows = {l[0]: l for l in lines[1:]}
    assert rows["good"][1:4] == ["general", "1.2.3", "loaded"]
    assert rows["testapp"][1:4] == ["runtime", "0.1", "loaded"]
    # the same plugin twice loads once
    assert len([l for l in lines[1:] if l[3] == "loaded"]) == 2
    # what else the search directories offer is listed too
    assert rows["http"][3] == "available"
    assert "wrong_abi" not in rows  # refused, so not offered


def test_help_with_a_plugin_shows_its_options():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "good", "--help")
    assert r.returncode == 0
    assert "--processes" in r.stdout
    assert "--good-greeting" in r.stdout


def test_unknown_option_suggests_the_closest():
    r = run("--proceses", "2")
    assert r.returncode != 0
    assert "unknown option '--proceses'" in r.stderr
    assert "--processes" in r.stderr


def test_option_of_a_plugin_not_loaded_names_it():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--testapp-fail-load")
    assert r.returncode != 0
    assert "testapp" in r.stderr and "not loaded" in r.stderr


def test_no_runtime():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "good")
    assert r.returncode != 0
    assert "no application runtime" in r.stderr


def test_no_sockets():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp")
    assert r.returncode != 0
    assert "no sockets" in r.stderr


def test_listen_above_somaxconn_is_refused():
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp,http",
            "--http-socket", f"127.0.0.1:{free_port()}", "--listen", str(somaxconn + 1))
    assert r.returncode != 0
    assert "somaxconn" in r.stderr


def test_bad_address():
    r = run("--plugin-dir", str(TEST_PLUGIN_DIR), "--plugin", "testapp,http", "--http-socket", "127.0.0.1:99999")
    assert r.returncode != 0
    assert "invalid address '127.0.0.1:99999'" in r.stderr


def test_bad_integer_names_the_option():
    r = run("--processes", "many")
    assert r.returncode != 0
    assert "processes" in r.stderr and "many" in r.stderr
