# trellis_add_plugin(NAME SOURCES src... [OUTPUT_DIR dir] [NO_INSTALL]
#                    [COMPONENT comp])
#
# Builds NAME_plugin.so as a MODULE the trellis loader accepts: C++20,
# hidden visibility (only the C entry function TRELLIS_PLUGIN defines is
# exported), no "lib" prefix and -Wl,--no-undefined (a missing symbol fails
# the link, not the dlopen). Any C++ compiler and standard library will do:
# the boundary is C (abi.h).
# Installs it into the plugin directory as install component COMPONENT
# (default "plugin-NAME", one Debian package per plugin: cmake/Packaging.cmake).
#
# One file for both worlds: the trellis build includes it from the source
# tree, and it is installed next to TrellisConfig.cmake for out-of-tree
# plugins (find_package(Trellis)). Both link the target Trellis::sdk (an
# alias in-tree, an imported target once installed). What differs comes from
# two variables the including side sets:
#   TRELLIS_PLUGIN_BUILD_DIR    where plugins are written in the build tree
#                               (in-tree: build/lib/trellis/plugins, next to
#                               bin/trellis; unset out of tree: the current
#                               binary directory)
#   TRELLIS_PLUGIN_INSTALL_DIR  the install destination (relative to the
#                               install prefix, or absolute)
function(trellis_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR;COMPONENT" "SOURCES" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "trellis_add_plugin(${name}): unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "trellis_add_plugin(${name}): no SOURCES given")
  endif()
  set(target ${name}_plugin)
  add_library(${target} MODULE ${ARG_SOURCES})
  if(NOT ARG_OUTPUT_DIR AND TRELLIS_PLUGIN_BUILD_DIR)
    set(ARG_OUTPUT_DIR ${TRELLIS_PLUGIN_BUILD_DIR})
  endif()
  if(ARG_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR})
  endif()
  # The loader looks for exactly "<name>_plugin.so".
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    SUFFIX ".so"
    OUTPUT_NAME ${target}
    CXX_STANDARD 20
    CXX_STANDARD_REQUIRED ON
    CXX_EXTENSIONS OFF
    POSITION_INDEPENDENT_CODE ON
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE Trellis::sdk)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(NOT ARG_NO_INSTALL)
    if(NOT ARG_COMPONENT)
      set(ARG_COMPONENT plugin-${name})
    endif()
    install(TARGETS ${target}
            LIBRARY DESTINATION ${TRELLIS_PLUGIN_INSTALL_DIR}
            COMPONENT ${ARG_COMPONENT})
  endif()
endfunction()
