# The kernel loader: image parsing and the boot-structure builders.
mvmm_test(unit_loader
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/kernel_image_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/boot_structures_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/loader_test.cpp
  DEPS mvmm_loader
  LABELS unit)
