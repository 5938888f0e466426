# Introspection: the memory image, the page-table walker, the profile reader,
# process discovery, sharing analysis and accounting. Registered by
# tests/CMakeLists.txt.
mvmm_test(unit_memory_image SOURCES introspect/memory_image_test.cpp
  DEPS mvmm_memory mvmm_walker_synthetic mvmm_walker LABELS unit)
mvmm_test(unit_walker SOURCES introspect/walker_test.cpp
  DEPS mvmm_walker_synthetic mvmm_walker LABELS unit)
mvmm_test(unit_introspect_profile SOURCES introspect/profile_test.cpp
  DEPS mvmm_introspect_synthetic mvmm_introspect LABELS unit)
mvmm_test(unit_introspect_analysis SOURCES introspect/analysis_test.cpp
  DEPS mvmm_introspect_synthetic mvmm_introspect LABELS unit)
mvmm_test(unit_introspector SOURCES introspect/introspector_test.cpp
  DEPS mvmm_introspect_synthetic mvmm_introspect LABELS unit)
mvmm_test(unit_inspect_cli SOURCES introspect/inspect_cli_test.cpp
  DEPS mvmm_introspect_synthetic mvmm_introspect LABELS unit)
add_dependencies(unit_inspect_cli mshare-vmm)
