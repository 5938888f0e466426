# What `mshare-vmm run` adds to the control socket: the introspection part on
# a synthetic guest, the guest agent part against a real agent core on the
# host, and the guest test that drives both through a booted VM.
include(${PROJECT_SOURCE_DIR}/guest/agent/core.cmake)

mvmm_test(unit_guest_services
  SOURCES guest_services/introspection_backend_test.cpp guest_services/agent_service_test.cpp
  DEPS mvmm_guest_services mvmm_introspect_synthetic mvmm_agent_core
  LABELS unit)

# Boots configs/default.json with `mshare-vmm run` (out/kernel with its
# profile, this build's initramfs) and checks the control socket's
# introspection and agent replies against the guest's own figures. One CTest
# test runs the whole program, so one boot serves all its tests; the mshare
# test skips (and says why in the output) on a kernel without msharefs.
if(MVMM_BUILD_GUEST)
  add_executable(guest_introspection guest_services/guest_introspection_test.cpp)
  target_link_libraries(guest_introspection PRIVATE mvmm_control mvmm_qemu
                        GTest::gtest GTest::gtest_main)
  target_include_directories(guest_introspection PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_compile_definitions(guest_introspection PRIVATE
    MVMM_SOURCE_DIR="${PROJECT_SOURCE_DIR}" MVMM_BINARY_DIR="${PROJECT_BINARY_DIR}")
  mvmm_target_defaults(guest_introspection)
  target_compile_options(guest_introspection PRIVATE -Wno-null-dereference)
  add_dependencies(guest_introspection initramfs mshare-vmm)
  add_test(NAME guest_introspection COMMAND guest_introspection)
  set_tests_properties(guest_introspection PROPERTIES LABELS "guest;slow" TIMEOUT 1500)
endif()
