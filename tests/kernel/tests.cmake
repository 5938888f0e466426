# The guest kernel: the patch series as files (unit), and msharefs-test run
# inside the guest on the normal and the debug kernel, booted by the VMM
# (mshare-vmm run, QEMU engine, TCG, 2 vCPUs) with the project's initramfs.
# One boot per kernel runs every test. Labels: guest, and slow for the debug
# kernel. A guest run is skipped (exit 77, with the reason) when out/kernel or
# out/kernel-debug has not been built; guest-kernel-patch/build.sh [--debug]
# builds them. A run takes about 30 s (normal) and 90 s (debug) under TCG
# here, up to 6 minutes on a busy machine; the limits leave room for that.
mvmm_test(unit_kernel_series
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/series_test.cpp
  LABELS unit)
target_include_directories(unit_kernel_series PRIVATE ${PROJECT_SOURCE_DIR}/include/uapi)

if(TARGET msharefs-test AND TARGET mshare-vmm)
  foreach(_variant kernel kernel-debug)
    add_test(NAME kernel.msharefs.${_variant}
      COMMAND ${PROJECT_SOURCE_DIR}/guest-kernel-patch/tests/run-vmm.sh
              --vmm $<TARGET_FILE:mshare-vmm>
              --initramfs ${MVMM_INITRAMFS}
              --kernel ${PROJECT_SOURCE_DIR}/out/${_variant}
              --timeout 900
              --log ${PROJECT_BINARY_DIR}/msharefs-${_variant}.log)
    set(_labels guest)
    if(_variant STREQUAL "kernel-debug")
      list(APPEND _labels slow)
    endif()
    set_tests_properties(kernel.msharefs.${_variant} PROPERTIES
      LABELS "${_labels}" TIMEOUT 1080 SKIP_RETURN_CODE 77)
  endforeach()
endif()
