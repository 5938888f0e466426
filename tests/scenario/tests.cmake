# Scenario files, runner (against a scripted fake VM), reports and charts.
mvmm_test(unit_scenario
  SOURCES scenario/parser_test.cpp scenario/assertion_test.cpp scenario/runner_test.cpp
          scenario/report_test.cpp scenario/chart_test.cpp scenario/fake_vm.cpp
  DEPS mvmm_scenario
  LABELS unit)

# `mshare-vmm scenario` and `plot` as a CI job runs them, with stand-in VMMs
# (no guest boots).
mvmm_test(unit_scenario_cli
  SOURCES scenario/scenario_cli_test.cpp
  DEPS nlohmann_json::nlohmann_json
  LABELS unit)
add_dependencies(unit_scenario_cli mshare-vmm)

# The scenario-file fuzz target over its seeds and mutations of them.
mvmm_test(unit_scenario_fuzz_replay
  SOURCES scenario/fuzz_replay_test.cpp ${PROJECT_SOURCE_DIR}/fuzz/scenario/fuzz_scenario.cpp
  DEPS mvmm_scenario
  LABELS unit)

# The shipped scenario files must always parse (no VM needed).
set(_mvmm_scenario_files conformance sharing churn owner-exit sga bench smoke)
set(_mvmm_scenario_paths "")
foreach(_f ${_mvmm_scenario_files})
  list(APPEND _mvmm_scenario_paths ${PROJECT_SOURCE_DIR}/configs/scenarios/${_f}.json)
endforeach()
add_test(NAME scenario.files_check
  COMMAND $<TARGET_FILE:mshare-vmm> scenario --check ${_mvmm_scenario_paths})
set_tests_properties(scenario.files_check PROPERTIES LABELS unit TIMEOUT 60)

# One short scenario end to end, for every CI run: configs/scenarios/smoke.json
# boots one VM on the engine `auto` picks and the test checks the JSON and
# JUnit reports. It skips (with the scenario's reason) the parts the VMM or
# the guest kernel cannot do yet.
if(MVMM_BUILD_GUEST)
  mvmm_test(guest_scenario
    SOURCES scenario/guest_scenario_test.cpp
    DEPS nlohmann_json::nlohmann_json
    LABELS guest
    TIMEOUT 1200)
  add_dependencies(guest_scenario mshare-vmm initramfs)
endif()

# The shipped scenario files, one CTest test each (docs/ci.md). sharing,
# owner-exit and churn take about 30 s, 10 s and 90 s under TCG and always run.
# conformance (the normal and the debug kernel; tests/kernel runs the same
# in-guest program) and sga (about 18 minutes) are registered only with
# -DMVMM_SCENARIO_TESTS=ON. A file whose kernel or initramfs has not been
# built is skipped (exit 77). The benchmark sweep (bench.json) is never
# registered; docs/results.md has its command.
option(MVMM_SCENARIO_TESTS "Also register the long scenario files (conformance, sga) as CTest tests" OFF)
set(_scenario_files sharing owner-exit churn)
if(MVMM_SCENARIO_TESTS)
  list(APPEND _scenario_files conformance sga)
endif()
if(MVMM_BUILD_GUEST AND TARGET mshare-vmm)
  foreach(_f ${_scenario_files})
    add_test(NAME scenario.${_f}
      COMMAND $<TARGET_FILE:mshare-vmm> scenario ${PROJECT_SOURCE_DIR}/configs/scenarios/${_f}.json
              --output ${PROJECT_BINARY_DIR}/scenario-results/${_f} --plain --exit-skipped 77)
    set_tests_properties(scenario.${_f} PROPERTIES
      LABELS "guest;slow" SKIP_RETURN_CODE 77 TIMEOUT 3600)
  endforeach()
endif()
