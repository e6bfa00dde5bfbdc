"""The plugin SDK as a third-party author meets it.

Installs this build into a temporary prefix (`cmake --install --prefix`),
builds sdk/examples/hello_runtime outside the source tree with nothing but
find_package(Trellis) (and once more with nothing but pkg-config), and serves
a real HTTP request with the installed binary, the installed http plugin and
the example runtime. Then builds every example with another compiler and
another C++ standard library (clang++ with libc++) and loads them into this
gcc/libstdc++ build: the plugin boundary is C.
"""
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from sdk_support import (BUILD, CMAKE, CXX, CXX_ID, GENERATOR, LIBDIR, PLUGINS, SOURCE, Server, run)

EXAMPLE = SOURCE / "sdk" / "examples" / "hello_runtime"
CLEAN_ENV = {k: v for k, v in os.environ.items() if k != "TRELLIS_PLUGIN_DIR" and not k.startswith("PKG_CONFIG")}


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("sdk")


@pytest.fixture(scope="module")
def prefix(work):
    """This build installed into a fresh prefix, as `cmake --install` does."""
    p = work / "prefix"
    run([CMAKE, "--install", BUILD, "--prefix", p])
    return p


@pytest.fixture(scope="module")
def example(work, prefix):
    """The example copied out of the source tree, configured and built
    against the prefix. Returns (source dir, build dir, configure output)."""
    src = work / "hello_runtime"
    shutil.copytree(EXAMPLE, src)
    build = src / "build"
    conf = run([CMAKE, "-S", src, "-B", build, "-G", GENERATOR, f"-DCMAKE_PREFIX_PATH={prefix}",
                f"-DCMAKE_CXX_COMPILER={CXX}", "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON"],
               env=CLEAN_ENV)
    run([CMAKE, "--build", build], env=CLEAN_ENV)
    return src, build, conf.stdout + conf.stderr


def plugin_dir(prefix):
    return prefix / LIBDIR / "trellis" / "plugins"


def plugins_list(binary, *args, cwd):
    out = run([binary, *args, "--plugins-list"], env=CLEAN_ENV, cwd=cwd).stdout
    # PLUGIN KIND VERSION STATE BUILT-WITH PATH: the loaded plugins
    return {cols[0]: Path(cols[-1]) for cols in (line.split() for line in out.splitlines()[1:])
            if len(cols) >= 6 and cols[3] == "loaded"}


def test_install_layout(prefix):
    assert (prefix / "bin" / "trellis").is_file()
    for header in ("abi.h", "plugin.hpp", "host.hpp", "runtime.hpp", "protocol.hpp", "lock_engine.hpp"):
        assert (prefix / "include" / "trellis" / header).is_file(), header
    cmake_dir = prefix / LIBDIR / "cmake" / "Trellis"
    for f in ("TrellisConfig.cmake", "TrellisConfigVersion.cmake", "TrellisTargets.cmake", "TrellisPlugin.cmake"):
        assert (cmake_dir / f).is_file(), f
    # One trellis_add_plugin for the trellis tree and for third parties.
    assert (cmake_dir / "TrellisPlugin.cmake").read_text() == (SOURCE / "cmake" / "TrellisPlugin.cmake").read_text()
    assert (prefix / LIBDIR / "pkgconfig" / "trellis-sdk.pc").is_file()
    for name in PLUGINS:
        assert (plugin_dir(prefix) / f"{name}_plugin.so").is_file(), name


def test_installed_binary_finds_its_plugins_without_flags(prefix, work):
    if "http" not in PLUGINS:
        pytest.skip("built without the http plugin")
    found = plugins_list(prefix / "bin" / "trellis", "--plugin", "http", cwd=work)
    assert found["http"].resolve() == (plugin_dir(prefix) / "http_plugin.so").resolve()


def test_example_is_built_the_way_the_loader_wants(example):
    src, build, _ = example
    so = build / "hello_runtime_plugin.so"
    assert so.is_file()
    commands = json.loads((build / "compile_commands.json").read_text())
    command = commands[0]["command"]
    for flag in ("-std=c++20", "-fvisibility=hidden", "-fvisibility-inlines-hidden"):
        assert flag in command, (flag, command)
    link_rules = "".join(p.read_text(errors="replace") for p in build.rglob("*")
                         if p.is_file() and p.name in ("build.ninja", "link.txt"))
    assert "-Wl,--no-undefined" in link_rules
    # Hidden visibility: the entry alias is the only symbol of ours exported.
    exported = run(["nm", "-D", "--defined-only", "--format=posix", so]).stdout.split("\n")
    names = {line.split()[0] for line in exported if line.strip()}
    assert "trellis_plugin_entry" in names
    assert not [n for n in names if "Hello" in n or "trellis" in n.lower() and n != "trellis_plugin_entry"], names


def test_example_answers_http_requests(example, prefix, work):
    if "http" not in PLUGINS:
        pytest.skip("built without the http plugin")
    _, build, _ = example
    server = Server(prefix / "bin" / "trellis",
                    ["--plugin", build / "hello_runtime_plugin.so", "--plugin", "http"], work / "serve.log")
    try:
        status, body = server.get("/some/where")
        assert (status, body) == (200, "Hello from C++ (/some/where)\n"), server.log()
        assert "[hello_runtime] loaded in" in server.log()
    finally:
        assert server.stop() == 0, server.log()


def test_example_installs_into_the_plugin_dir(example, prefix, work):
    _, build, _ = example
    run([CMAKE, "--install", build], env=CLEAN_ENV)
    installed = plugin_dir(prefix) / "hello_runtime_plugin.so"
    assert installed.is_file()
    # Now found by name, like the plugins trellis ships.
    found = plugins_list(prefix / "bin" / "trellis", "--plugin", "hello_runtime", cwd=work)
    assert found["hello_runtime"].resolve() == installed.resolve()


def test_pkg_config_builds_a_loadable_plugin(prefix, work):
    if not shutil.which("pkg-config"):
        pytest.skip("pkg-config is not installed")
    env = dict(CLEAN_ENV, PKG_CONFIG_PATH=str(prefix / LIBDIR / "pkgconfig"))

    def pc(*args):
        return run(["pkg-config", *args, "trellis-sdk"], env=env).stdout.strip()

    assert Path(pc("--variable=plugindir")).resolve() == plugin_dir(prefix).resolve()
    cflags = pc("--cflags").split()
    assert "-std=c++20" in cflags
    includes = [Path(f[2:]).resolve() for f in cflags if f.startswith("-I")]
    assert (prefix / "include").resolve() in includes
    out = work / "pc" / "hello_runtime_plugin.so"
    out.parent.mkdir()
    run([CXX, "-shared", "-O1", "-o", out, EXAMPLE / "hello_runtime.cpp", *cflags, *pc("--libs").split()])
    found = plugins_list(prefix / "bin" / "trellis", "--plugin", out, cwd=work)
    assert found["hello_runtime"] == out


def libcxx_available():
    return shutil.which("clang++") and any(Path(d).glob("libc++.so*") for d in
                                           ("/usr/lib/x86_64-linux-gnu", "/usr/lib/llvm-14/lib", "/usr/lib"))


@pytest.mark.parametrize("name", ["hello_runtime", "timer_runtime"])
def test_examples_built_with_clang_and_libcxx_load_and_serve(prefix, work, name):
    """Another compiler and another standard library than trellis's own:
    the plugin loads and answers requests, because nothing of C++ crosses the
    boundary (a C++ plugin with its own libc++ inside a libstdc++ host)."""
    if CXX_ID != "GNU":
        pytest.skip("this build is not gcc/libstdc++")
    if not libcxx_available():
        pytest.fail("clang++ and libc++ are needed (apt install clang libc++-dev libc++abi-dev)")
    if "http" not in PLUGINS:
        pytest.skip("built without the http plugin")
    src = work / f"clang-{name}"
    shutil.copytree(SOURCE / "sdk" / "examples" / name, src)
    build = src / "build"
    run([CMAKE, "-S", src, "-B", build, "-G", GENERATOR, f"-DCMAKE_PREFIX_PATH={prefix}",
         f"-DCMAKE_CXX_COMPILER={shutil.which('clang++')}", "-DCMAKE_CXX_FLAGS=-stdlib=libc++",
         "-DCMAKE_MODULE_LINKER_FLAGS=-stdlib=libc++", "-DCMAKE_BUILD_TYPE=Release"], env=CLEAN_ENV)
    run([CMAKE, "--build", build], env=CLEAN_ENV)
    so = build / f"{name}_plugin.so"
    needed = run(["readelf", "-d", so]).stdout
    assert "libc++.so" in needed and "libstdc++" not in needed, needed
    server = Server(prefix / "bin" / "trellis", ["--plugin", so, "--plugin", "http"], work / f"clang-{name}.log")
    try:
        status, body = server.get("/from/clang?delay=20")
        assert status == 200, server.log()
        expected = "Hello from C++ (/from/clang)\n" if name == "hello_runtime" else "waited 20 ms for /from/clang\n"
        assert body == expected, server.log()
        assert "clang-" in run([prefix / "bin" / "trellis", "--plugin", so, "--plugins-list"], env=CLEAN_ENV).stdout
    finally:
        assert server.stop() == 0, server.log()
