# The guest agent protocol: framing and base64, the agent's core (dispatcher,
# commands, exec, /proc parsers) on the host, and the host client talking to
# a real agent over a UNIX socket. Guest tests boot a VM (label guest).
include(${PROJECT_SOURCE_DIR}/guest/agent/core.cmake)

mvmm_test(unit_agent_protocol
  SOURCES agent/json_stream_test.cpp agent/base64_test.cpp
  DEPS mvmm_agent_protocol
  LABELS unit)

mvmm_test(unit_agent_core
  SOURCES agent/dispatcher_test.cpp agent/system_info_test.cpp agent/exec_manager_test.cpp
          agent/agent_loop_test.cpp
  DEPS mvmm_agent_core
  LABELS unit)

mvmm_test(unit_agent_client
  SOURCES agent/agent_client_test.cpp
  DEPS mvmm_agent_client mvmm_agent_core
  LABELS unit)

# With a booted guest (`mshare-vmm run`, the QEMU engine here): the kernel is
# $MVMM_TEST_KERNEL or out/kernel/bzImage; without one the tests skip and say so.
if(MVMM_BUILD_GUEST)
  mvmm_test(guest_agent
    SOURCES agent/guest_agent_test.cpp agent/guest_ptbench_test.cpp agent/guest_vm.cpp
    DEPS mvmm_agent_client mvmm_qemu
    LABELS guest slow
    TIMEOUT 1800)
  add_dependencies(guest_agent initramfs mshare-vmm)
endif()
