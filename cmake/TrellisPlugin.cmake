# trellis_add_plugin(NAME SOURCES src... [OUTPUT_DIR dir] [NO_INSTALL])
#
# Builds NAME_plugin.so as a MODULE with hidden visibility (only the
# Boost.DLL entry alias is exported) into the plugin directory the binary
# searches, and installs it next to the other plugins.
function(trellis_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIR" "SOURCES" ${ARGN})
  set(target ${name}_plugin)
  add_library(${target} MODULE ${ARG_SOURCES})
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${TRELLIS_PLUGIN_BUILD_DIR})
  endif()
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${target}
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_libraries(${target} PRIVATE trellis::sdk)
  target_link_options(${target} PRIVATE -Wl,--no-undefined)
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION ${TRELLIS_PLUGIN_INSTALL_DIR})
  endif()
endfunction()
