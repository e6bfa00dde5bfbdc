"""The Debian packages (cmake/Packaging.cmake), made by cpack from this build.

No second build: cpack runs on this build tree with the packaging prefix
/usr. The directories below /usr are the ones the build was configured with
(the binary's plugin search path is baked in at configure time); a build
configured with -DCMAKE_INSTALL_PREFIX=/usr must give Debian's multiarch
layout. Each package's contents are checked with `dpkg-deb -c`, its control
fields with `dpkg-deb -f`, and the extracted packages are run.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from sdk_support import ARCH_TRIPLET, BUILD, CPACK, INSTALL_PREFIX, LIBDIR, PLUGINS, VERSION, run

PACKAGE_OF = {"python": "trellis-plugin-python", "asgi": "trellis-plugin-asgi", "http": "trellis-plugin-http", "uwsgi": "trellis-plugin-uwsgi",
              "lock_engines": "trellis-plugin-lock-engines"}
PLUGIN_DIR = f"/usr/{LIBDIR}/trellis/plugins"
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "TRELLIS_PLUGIN_DIR"}


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    out = tmp_path_factory.mktemp("debs")
    run([CPACK, "-G", "DEB", "--config", BUILD / "CPackConfig.cmake", "-B", out,
         "-D", "CPACK_PACKAGING_INSTALL_PREFIX=/usr"], timeout=900, cwd=BUILD)
    found = {}
    for deb in out.glob("*.deb"):
        name = run(["dpkg-deb", "-f", deb, "Package"]).stdout.strip()
        found[name] = deb
    return found


def contents(deb):
    """Regular files (and symlinks) in the package, as absolute paths."""
    files = []
    for line in run(["dpkg-deb", "-c", deb]).stdout.splitlines():
        if line.startswith("d"):
            continue
        path = line.split(None, 5)[5].split(" -> ")[0]
        files.append(path[1:] if path.startswith("./") else path)
    return sorted("/" + f.lstrip("/") for f in files)


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


def extract(debs, names, into):
    into.mkdir()
    for n in names:
        run(["dpkg-deb", "-x", debs[n], into])
    return into


def test_one_package_per_component(debs):
    expected = {"trellis", "trellis-dev", *(PACKAGE_OF[p] for p in PLUGINS)}
    assert set(debs) == expected
    summaries = set()
    for deb in debs.values():
        assert field(deb, "Version") == VERSION
        summaries.add(field(deb, "Description").splitlines()[0])
    # Each package says what it is in its own summary line.
    assert len(summaries) == len(debs), summaries


def test_layout_is_fhs(debs):
    if INSTALL_PREFIX.rstrip("/") == "/usr":
        # Debian's multiarch directory, as GNUInstallDirs picks for /usr.
        assert ARCH_TRIPLET and LIBDIR == f"lib/{ARCH_TRIPLET}", LIBDIR
    assert contents(debs["trellis"]) == ["/usr/bin/trellis"]
    for plugin in PLUGINS:
        assert contents(debs[PACKAGE_OF[plugin]]) == [f"{PLUGIN_DIR}/{plugin}_plugin.so"], plugin
    dev = contents(debs["trellis-dev"])
    for f in ("/usr/include/trellis/abi.h", "/usr/include/trellis/plugin.hpp",
              f"/usr/{LIBDIR}/cmake/Trellis/TrellisConfig.cmake",
              f"/usr/{LIBDIR}/cmake/Trellis/TrellisConfigVersion.cmake",
              f"/usr/{LIBDIR}/cmake/Trellis/TrellisTargets.cmake",
              f"/usr/{LIBDIR}/cmake/Trellis/TrellisPlugin.cmake",
              f"/usr/{LIBDIR}/pkgconfig/trellis-sdk.pc"):
        assert f in dev, (f, dev)
    assert not [f for f in dev if f.endswith(".so") or f.startswith("/usr/bin")], dev


def test_dependencies(debs):
    exact = f"trellis (= {VERSION})"
    for plugin in PLUGINS:
        depends = field(debs[PACKAGE_OF[plugin]], "Depends")
        assert exact in [d.strip() for d in depends.split(",")], (plugin, depends)
    if "python" in PLUGINS:
        # The libpython the plugin was linked against (dpkg-shlibdeps).
        assert re.search(r"\blibpython3\.11\b", field(debs["trellis-plugin-python"], "Depends"))
    core = field(debs["trellis"], "Depends")
    if shutil.which("dpkg-shlibdeps") and shutil.which("file"):
        assert "libc6" in core and "libstdc++6" in core, core
    assert not re.search(r"\btrellis\b", core), core
    dev = field(debs["trellis-dev"], "Depends")
    # The SDK is headers over a C boundary: it needs trellis itself, no Boost.
    assert exact in dev and "boost" not in dev, dev


def test_core_and_a_plugin_run_from_the_packages(debs, tmp_path):
    if "http" not in PLUGINS:
        pytest.skip("built without the http plugin")
    root = extract(debs, ["trellis", "trellis-plugin-http"], tmp_path / "root")
    trellis = root / "usr" / "bin" / "trellis"
    help_text = run([trellis, "--help"], env=CLEAN_ENV, cwd=tmp_path).stdout
    assert "--plugin" in help_text
    out = run([trellis, "--plugin", "http", "--plugins-list"], env=CLEAN_ENV, cwd=tmp_path).stdout
    line = next(l for l in out.splitlines() if l.split()[:1] == ["http"])
    assert Path(line.split()[-1]) == root / PLUGIN_DIR.lstrip("/") / "http_plugin.so"


def test_missing_plugin_package_is_named(debs, tmp_path):
    root = extract(debs, ["trellis"], tmp_path / "root")
    proc = run([root / "usr" / "bin" / "trellis", "--plugin", "python", "--plugins-list"], check=False,
               env=CLEAN_ENV, cwd=tmp_path)
    assert proc.returncode != 0
    message = proc.stdout + proc.stderr
    assert "plugin 'python' not found" in message, message
    assert "install the package trellis-plugin-python or pass --plugin-dir" in message, message


def test_dev_package_points_at_the_plugin_dir(debs, tmp_path):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config is not installed")
    root = extract(debs, ["trellis-dev"], tmp_path / "root")
    env = dict(CLEAN_ENV, PKG_CONFIG_PATH=str(root / "usr" / LIBDIR / "pkgconfig"))
    plugindir = run(["pkg-config", "--variable=plugindir", "trellis-sdk"], env=env).stdout.strip()
    assert os.path.normpath(plugindir) == str(root / PLUGIN_DIR.lstrip("/"))
