# Debian packages, one per install component (cpack -G DEB):
#
#   component            package                      contents
#   core                 trellis                      bin/trellis
#   plugin-python        trellis-plugin-python        python_plugin.so
#   plugin-asgi          trellis-plugin-asgi          asgi_plugin.so
#   plugin-http          trellis-plugin-http          http_plugin.so
#   plugin-uwsgi         trellis-plugin-uwsgi         uwsgi_plugin.so
#   plugin-lock_engines  trellis-plugin-lock-engines  lock_engines_plugin.so
#   dev                  trellis-dev                  SDK headers, CMake package, trellis-sdk.pc
#
# Plugins get their component from trellis_add_plugin() ("plugin-<name>").
# A plugin left out of the build (-DTRELLIS_WITH_PYTHON=OFF) has no
# component, hence no package. Every plugin package and trellis-dev depend on
# exactly this version of trellis: the packages of one release go together.
# (A third-party plugin needs only the ABI major: docs/plugin-abi.md.)
#
# Layout: packages install under /usr. The directories below the prefix are
# the ones this build was configured with (GNUInstallDirs), because the
# binary looks for its plugins at <exe>/../<libdir>/trellis/plugins with the
# libdir baked in at configure time. Configure with
# -DCMAKE_INSTALL_PREFIX=/usr to get Debian's multiarch layout
# (/usr/lib/<triplet>/trellis/plugins); a build configured for /usr/local
# packages its plugins in /usr/lib/trellis/plugins, where the binary looks
# too.

set(CPACK_PACKAGE_NAME trellis)
set(CPACK_PACKAGE_VENDOR "trellis")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Every package has its own summary (the first line of its description).
# CPackDeb prepends CPACK_PACKAGE_DESCRIPTION_SUMMARY to each one unless it
# is CPack's own default, so keep that default.
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${CMAKE_PROJECT_NAME} built using CMake")
set(TRELLIS_PACKAGE_CONTACT "trellis developers <trellis-devel@invalid>" CACHE STRING
    "Maintainer field of the Debian packages")
set(CPACK_PACKAGE_CONTACT "${TRELLIS_PACKAGE_CONTACT}")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps fills Depends from the ELF files: libstdc++, Boost
# program_options and spdlog for the core, libpython3.11 for the python
# plugin (the exact libpython the plugin was linked against). CPack needs
# dpkg-shlibdeps (dpkg-dev) and file(1) for that; without them only the
# dependencies named below are recorded.
find_program(TRELLIS_DPKG_SHLIBDEPS dpkg-shlibdeps)
find_program(TRELLIS_FILE_COMMAND file)
mark_as_advanced(TRELLIS_DPKG_SHLIBDEPS TRELLIS_FILE_COMMAND)
if(TRELLIS_DPKG_SHLIBDEPS AND TRELLIS_FILE_COMMAND)
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
else()
  set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS OFF)
  message(STATUS "Debian packages: dpkg-shlibdeps or file not found, shared library dependencies not computed "
                 "(apt install dpkg-dev file)")
endif()
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

# Components present in this build; anything installed without a component
# would land in "Unspecified", which no package should silently carry.
get_cmake_property(_trellis_components COMPONENTS)
if("Unspecified" IN_LIST _trellis_components)
  message(WARNING "Some install() rule has no COMPONENT: it is left out of the Debian packages")
  list(REMOVE_ITEM _trellis_components Unspecified)
endif()
set(CPACK_COMPONENTS_ALL ${_trellis_components})

# Descriptions: the first line is the summary; CPack indents the rest and
# turns empty lines into " ." as Debian wants.
set(CPACK_DEBIAN_CORE_DESCRIPTION "plugin-based application server (core)
trellis is the maintained successor to uWSGI: a small core (master and
worker processes, sockets, configuration, logging) that loads plugins for
languages (python), protocols (http, uwsgi) and accept locks.

This package holds the server binary. Install the plugin packages you need,
e.g. trellis-plugin-python and trellis-plugin-http.")
set(CPACK_DEBIAN_CORE_PACKAGE_NAME trellis)
set(CPACK_DEBIAN_CORE_PACKAGE_SUGGESTS
    "trellis-plugin-python, trellis-plugin-asgi, trellis-plugin-http, trellis-plugin-uwsgi, trellis-plugin-lock-engines")

# trellis_package_plugin(component package summary description)
function(trellis_package_plugin component package summary description)
  string(TOUPPER ${component} up)
  set(CPACK_DEBIAN_${up}_PACKAGE_NAME ${package} PARENT_SCOPE)
  set(CPACK_COMPONENT_${up}_DEPENDS core PARENT_SCOPE)
  set(CPACK_DEBIAN_${up}_DESCRIPTION "${summary}\n${description}" PARENT_SCOPE)
endfunction()

trellis_package_plugin(plugin-python trellis-plugin-python
  "trellis plugin: Python 3.11 WSGI runtime"
  "Hosts PEP 3333 applications (Flask, Django, ...) in the system CPython 3.11.\nLoad with --plugin python.")
if(NOT CPACK_DEBIAN_PACKAGE_SHLIBDEPS)
  # The plugin embeds exactly this libpython (plugins/python: 3.11 EXACT).
  set(CPACK_DEBIAN_PLUGIN-PYTHON_PACKAGE_DEPENDS "libpython3.11")
endif()
# The WSGI application runs in the system python3's standard library.
set(CPACK_DEBIAN_PLUGIN-PYTHON_PACKAGE_RECOMMENDS "python3 (>= 3.11), python3 (<< 3.12)")
trellis_package_plugin(plugin-asgi trellis-plugin-asgi
  "trellis plugin: Python 3.11 ASGI runtime"
  "Hosts ASGI 3.0 applications (Starlette, FastAPI, Django async) on asyncio\nor uvloop in the system CPython 3.11. Load with --plugin asgi.")
if(NOT CPACK_DEBIAN_PACKAGE_SHLIBDEPS)
  set(CPACK_DEBIAN_PLUGIN-ASGI_PACKAGE_DEPENDS "libpython3.11")
endif()
set(CPACK_DEBIAN_PLUGIN-ASGI_PACKAGE_RECOMMENDS "python3 (>= 3.11), python3 (<< 3.12), python3-uvloop")
trellis_package_plugin(plugin-http trellis-plugin-http
  "trellis plugin: HTTP/1.1 protocol"
  "Keep-alive, pipelining, chunked bodies, strict parsing.\nLoad with --plugin http and --http-socket ADDR.")
trellis_package_plugin(plugin-uwsgi trellis-plugin-uwsgi
  "trellis plugin: uwsgi protocol"
  "The binary uwsgi protocol, for nginx's uwsgi_pass.\nLoad with --plugin uwsgi and --socket ADDR.")
trellis_package_plugin(plugin-lock_engines trellis-plugin-lock-engines
  "trellis plugin: accept lock engines"
  "pthread robust mutex, flock, POSIX semaphore and none.\nUsed with --lock-engine NAME.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME trellis-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_DEV_DEPENDS core)
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS "cmake (>= 3.22), pkg-config, g++ | clang")
set(CPACK_DEBIAN_DEV_DESCRIPTION "trellis plugin SDK
Headers, the CMake package (find_package(Trellis), trellis_add_plugin) and
the pkg-config file (trellis-sdk) to build trellis plugins out of tree.
The plugin boundary is C (ABI 2): any C++20 compiler and standard library
will do, g++ with libstdc++ or clang++ with libc++ (see docs/plugin-abi.md).")

include(CPack)
unset(_trellis_components)
