# The initramfs builder: manifest parsing, the cpio writer, reproducibility,
# and the contents of the initramfs the build made.
include(${PROJECT_SOURCE_DIR}/guest/initramfs/library.cmake)
mvmm_test(unit_initramfs
  SOURCES initramfs/manifest_test.cpp initramfs/cpio_writer_test.cpp initramfs/cpio_reader.cpp
          initramfs/built_initramfs_test.cpp
  DEPS mvmm_initramfs LibArchive::LibArchive
  LABELS unit)
if(MVMM_BUILD_GUEST)
  target_compile_definitions(unit_initramfs PRIVATE
    MVMM_BUILT_INITRAMFS="${PROJECT_BINARY_DIR}/guest/initramfs/initramfs.cpio"
    MVMM_PROGRAMS_MANIFEST="${PROJECT_BINARY_DIR}/guest/initramfs/programs.manifest")
endif()
