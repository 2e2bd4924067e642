// Compiles the shared precompiled header; see framework/CMakeLists.txt.
