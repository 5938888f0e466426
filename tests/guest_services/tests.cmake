# What `mshare-vmm run` adds to the control socket: the introspection part on
# a synthetic guest, the guest agent part against a real agent core on the
# host, and the guest test that drives both through a booted VM.
include(${PROJECT_SOURCE_DIR}/guest/agent/core.cmake)

mvmm_test(unit_guest_services
  SOURCES guest_services/introspection_backend_test.cpp guest_services/agent_service_test.cpp
  DEPS mvmm_guest_services mvmm_introspect_synthetic mvmm_agent_core
  LABELS unit)

