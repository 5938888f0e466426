# Scenario files, runner (against a scripted fake VM), reports and charts.
mvmm_test(unit_scenario
  SOURCES scenario/parser_test.cpp scenario/assertion_test.cpp scenario/runner_test.cpp
          scenario/report_test.cpp scenario/chart_test.cpp scenario/fake_vm.cpp
  DEPS mvmm_scenario
  LABELS unit)
