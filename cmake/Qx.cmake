# qx_add_plugin(<kind> <name>) builds one plugin into ${QX_PLUGIN_OUTPUT_DIR}/libqx_<kind>_<name>.so,
# which `qx` discovers at run time, and installs it into <prefix>/${QX_PLUGIN_INSTALL_DIR}.
# Adding a plugin is one folder, one .cpp file and one line of CMake. The source is, unless
# SOURCE names it: <name>.cpp beside the calling CMakeLists.txt, else (the plugins of this tree)
# <kind>s/<name>/<name>.cpp (passes/ for the pass kind). NO_INSTALL keeps a plugin out of the
# installation (the test suite's own plugins).
#
# The same file serves this tree and, installed with qxConfig.cmake, a plugin built out of tree
# with find_package(qx) (examples/out_of_tree_observer/).
set(QX_PLUGIN_EXPORTS_MAP "${CMAKE_CURRENT_LIST_DIR}/plugin_exports.map")
if(NOT DEFINED QX_PLUGIN_OUTPUT_DIR)
  set(QX_PLUGIN_OUTPUT_DIR "${CMAKE_BINARY_DIR}/plugins")
endif()
# Relative to the install prefix; qx looks there first (framework/src/host/plugin_host.cpp).
set(QX_PLUGIN_INSTALL_DIR "lib/qx/plugins")

function(qx_add_plugin kind name)
  cmake_parse_arguments(ARG "NO_INSTALL" "SOURCE;OUTPUT_DIR" "" ${ARGN})
  if(NOT ARG_SOURCE)
    set(folder "${kind}s")
    if(kind STREQUAL "pass")
      set(folder "passes")
    endif()
    if(EXISTS "${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp")
      set(ARG_SOURCE "${CMAKE_CURRENT_SOURCE_DIR}/${name}.cpp")
    else()
      set(ARG_SOURCE "${CMAKE_CURRENT_SOURCE_DIR}/${folder}/${name}/${name}.cpp")
    endif()
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR "${QX_PLUGIN_OUTPUT_DIR}")
  endif()
  set(target "qx_${kind}_${name}")
  add_library(${target} MODULE "${ARG_SOURCE}")
  # Observers, quantizers and models see the SDK alone; a pass acts on the simulation and links
  # the engine (docs/plugins.md, "What a plugin may include").
  if(kind STREQUAL "pass")
    target_link_libraries(${target} PRIVATE qx::engine)
  else()
    target_link_libraries(${target} PRIVATE qx::sdk)
  endif()
  if(TARGET qx_warnings)  # this tree: shared warnings and the precompiled LibTorch header
    target_link_libraries(${target} PRIVATE qx_warnings)
    target_precompile_headers(${target} REUSE_FROM qx_pch)
  else()
    target_compile_options(${target} PRIVATE -Wall -Wextra)
  endif()
  # Only the two entry points leave the library (a linker version script, as ONNX Runtime's
  # custom-op libraries do); compiling with -fvisibility=hidden instead would invalidate the
  # shared precompiled header.
  target_link_options(${target} PRIVATE "LINKER:--version-script=${QX_PLUGIN_EXPORTS_MAP}")
  set_property(GLOBAL APPEND PROPERTY QX_PLUGIN_TARGETS ${target})
  set_target_properties(${target} PROPERTIES
    LINK_DEPENDS "${QX_PLUGIN_EXPORTS_MAP}"
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}"
    INSTALL_RPATH "$ORIGIN/../..")  # <prefix>/lib, where the qx libraries are installed
  if(NOT ARG_NO_INSTALL)
    install(TARGETS ${target} LIBRARY DESTINATION "${QX_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()

# qx_executable(<target> sources...) adds a program of this tree that shares the precompiled
# LibTorch header.
function(qx_executable target)
  add_executable(${target} ${ARGN})
  # Compiled -fPIC like the libraries: a -fPIE object cannot use the -fPIC precompiled header.
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(${target} PRIVATE -fPIC)
  target_link_libraries(${target} PRIVATE qx::run qx::report qx_warnings)
  target_precompile_headers(${target} REUSE_FROM qx_pch)
endfunction()
