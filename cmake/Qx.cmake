# qx_add_plugin(<kind> <name>) builds plugins/<kind>s/<name>/<name>.cpp (plugins/passes/ for the
# pass kind) into ${QX_PLUGIN_OUTPUT_DIR}/libqx_<kind>_<name>.so, which `qx` discovers at run time.
# Adding a plugin is one folder, one .cpp file and one line in plugins/CMakeLists.txt.
set(QX_PLUGIN_EXPORTS_MAP "${CMAKE_CURRENT_LIST_DIR}/plugin_exports.map")

function(qx_add_plugin kind name)
  cmake_parse_arguments(ARG "" "SOURCE;OUTPUT_DIR" "" ${ARGN})
  if(NOT ARG_SOURCE)
    set(folder "${kind}s")
    if(kind STREQUAL "pass")
      set(folder "passes")
    endif()
    set(ARG_SOURCE "${CMAKE_CURRENT_SOURCE_DIR}/${folder}/${name}/${name}.cpp")
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR "${QX_PLUGIN_OUTPUT_DIR}")
  endif()
  set(target "qx_${kind}_${name}")
  add_library(${target} MODULE "${ARG_SOURCE}")
  target_link_libraries(${target} PRIVATE qx::framework qx_warnings)
  target_precompile_headers(${target} REUSE_FROM qx_pch)
  # Only the two entry points leave the library (a linker version script, as ONNX Runtime's
  # custom-op libraries do); compiling with -fvisibility=hidden instead would invalidate the
  # shared precompiled header.
  target_link_options(${target} PRIVATE "LINKER:--version-script=${QX_PLUGIN_EXPORTS_MAP}")
  set_property(GLOBAL APPEND PROPERTY QX_PLUGIN_TARGETS ${target})
  set_target_properties(${target} PROPERTIES
    LINK_DEPENDS "${QX_PLUGIN_EXPORTS_MAP}"
    PREFIX "lib"
    LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIR}")
endfunction()

# qx_executable(<target> sources...) adds a program that shares the precompiled LibTorch header.
function(qx_executable target)
  add_executable(${target} ${ARGN})
  # Compiled -fPIC like the libraries: a -fPIE object cannot use the -fPIC precompiled header.
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE OFF)
  target_compile_options(${target} PRIVATE -fPIC)
  target_link_libraries(${target} PRIVATE qx::framework qx_warnings)
  target_precompile_headers(${target} REUSE_FROM qx_pch)
endfunction()
