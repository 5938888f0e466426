# Scenario files, runner (against a scripted fake VM), reports and charts.
mvmm_test(unit_scenario
  SOURCES scenario/parser_test.cpp scenario/assertion_test.cpp scenario/runner_test.cpp
          scenario/report_test.cpp scenario/chart_test.cpp scenario/fake_vm.cpp
  DEPS mvmm_scenario
  LABELS unit)

# The shipped scenario files must always parse (no VM needed).
set(_mvmm_scenario_files conformance sharing churn owner-exit sga bench)
set(_mvmm_scenario_paths "")
foreach(_f ${_mvmm_scenario_files})
  list(APPEND _mvmm_scenario_paths ${PROJECT_SOURCE_DIR}/configs/scenarios/${_f}.json)
endforeach()
add_test(NAME scenario.files_check
  COMMAND $<TARGET_FILE:mshare-vmm> scenario --check ${_mvmm_scenario_paths})
set_tests_properties(scenario.files_check PROPERTIES LABELS unit TIMEOUT 60)

# The scenario runs: each file boots its VMs one after the other (CTest may
# run several files at once). A file whose kernel or initramfs has not been
# built is skipped (exit 77). The benchmark sweep (bench.json) takes long and
# is not registered; docs/results.md has its command.
foreach(_f conformance sharing churn owner-exit sga)
  add_test(NAME scenario.${_f}
    COMMAND $<TARGET_FILE:mshare-vmm> scenario ${PROJECT_SOURCE_DIR}/configs/scenarios/${_f}.json
            --output ${PROJECT_BINARY_DIR}/scenario-results/${_f} --plain --exit-skipped 77)
  set_tests_properties(scenario.${_f} PROPERTIES
    LABELS "guest;slow" SKIP_RETURN_CODE 77 TIMEOUT 10800)
endforeach()
