# The initramfs builder's library (manifest and cpio writer). Included from
# guest/initramfs/CMakeLists.txt and from the tests, which also build it when
# the guest programs are off (sanitizer build).
find_package(LibArchive REQUIRED)
if(NOT TARGET mvmm_initramfs)
  set(_dir ${PROJECT_SOURCE_DIR}/guest/initramfs)
  add_library(mvmm_initramfs STATIC ${_dir}/manifest.cpp ${_dir}/busybox.cpp ${_dir}/cpio_writer.cpp)
  target_include_directories(mvmm_initramfs PUBLIC ${_dir})
  target_link_libraries(mvmm_initramfs PUBLIC mvmm_common PRIVATE LibArchive::LibArchive)
  mvmm_target_defaults(mvmm_initramfs)
endif()
