# ptbench on the host: the modes the host kernel has (shmem, sysv), its
# report, and how it reports processes that die. Needs the guest programs.
if(MVMM_BUILD_GUEST)
  mvmm_test(unit_ptbench_host
    SOURCES workloads/ptbench_host_test.cpp
    DEPS nlohmann_json::nlohmann_json
    LABELS unit)
  target_compile_definitions(unit_ptbench_host PRIVATE
    MVMM_PTBENCH="$<TARGET_FILE:ptbench>")
  add_dependencies(unit_ptbench_host ptbench)
endif()
