// The scenario file parser: good files, and every kind of bad input with
// the message that names the file, scenario, step and field.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/scenario.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;

class ParserTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_.write("images/bzImage", "kernel");
        dir_.write("images/initramfs.cpio", "initramfs");
        dir_.write("configs/vm.json",
                   R"({"kernel": "../images/bzImage", "initramfs": "../images/initramfs.cpio",
                       "memory_mib": 256, "vcpus": 2})");
    }

    std::filesystem::path write(std::string_view text) {
        return dir_.write("configs/scenarios/s.json", text);
    }

    ScenarioFile load(std::string_view text) { return load_scenario_file(write(text)); }

    // The error text of loading `text`, or "" if it loads.
    std::string error_of(std::string_view text) {
        try {
            (void)load(text);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }

    // A file with one scenario whose steps are `steps` (a JSON array).
    std::string error_of_steps(std::string_view steps) {
        return error_of(
            std::string(R"({"scenarios": [{"name": "t", "vm": "../vm.json", "steps": )") +
            std::string(steps) + "}]}");
    }

    // One query step carrying `assertion`.
    std::string error_of_assertion(std::string_view assertion) {
        return error_of_steps(std::string(R"([{"type": "query", "name": "q", "command": "c",
                                               "assert": [)") +
                              std::string(assertion) + "]}]");
    }

    test::TempDir dir_;
};

TEST_F(ParserTest, FullScenarioParses) {
    const auto f = load(R"({
      "description": "demo",
      "scenarios": [{
        "name": "share-N8",
        "description": "eight sharers",
        "vm": "../vm.json",
        "timeout": 300,
        "console": {"forbid": ["mshare: leak"], "allow": ["WARNING: known"], "require": ["Linux"]},
        "steps": [
          {"type": "wait_until", "command": "mshare-guest-ping", "timeout": 120, "interval": 0.5},
          {"type": "wait_event", "event": "MSHARE_BOOT_COMPLETE", "data": {"seconds": 1}},
          {"type": "exec", "name": "ptbench", "path": "/bin/ptbench",
           "args": ["--mode", "mshare"], "env": ["A=1"], "stdout": "json", "save": "bench",
           "expect_exit": "any", "timeout": 60,
           "assert": [{"pointer": "/json/errors", "op": "==", "value": 0}]},
          {"type": "query", "command": "mshare-accounting", "arguments": {"walk": true},
           "save": "acct", "always": true,
           "assert": [{"name": "one shared PUD", "pointer": "/shared_puds", "count": true,
                       "where": [{"pointer": "/consistent", "op": "==", "value": true}],
                       "op": "==", "value": 1},
                      {"pointer": "/totals/bytes", "op": "approx", "ref": "/bench/json/x",
                       "scale": 2, "relative_tolerance": 0.1}]},
          {"type": "pause"}, {"type": "resume"}, {"type": "sleep", "seconds": 0.5},
          {"type": "check", "name": "leak", "assert": [{"pointer": "/acct/a", "op": "exists"}]}
        ]
      }]
    })");
    ASSERT_EQ(f.scenarios.size(), 1U);
    EXPECT_EQ(f.description, "demo");
    const auto& s = f.scenarios[0];
    EXPECT_EQ(s.name, "share-N8");
    ASSERT_TRUE(s.vm.has_value());
    EXPECT_EQ(s.vm->kernel, dir_.path() / "images/bzImage");
    EXPECT_EQ(s.vm->memory_mib, 256U);
    EXPECT_TRUE(s.skip_reason.empty());
    EXPECT_EQ(s.time_limit_seconds, 300);
    EXPECT_EQ(s.console.forbid, std::vector<std::string>{"mshare: leak"});
    EXPECT_TRUE(s.console.defaults);
    ASSERT_EQ(s.steps.size(), 8U);
    EXPECT_EQ(s.steps[0].type, StepType::wait_until);
    EXPECT_EQ(s.steps[0].name, "wait until mshare-guest-ping");
    EXPECT_EQ(s.steps[0].interval_seconds, 0.5);
    EXPECT_EQ(s.steps[1].event_data, json({{"seconds", 1}}));
    const auto& e = s.steps[2];
    EXPECT_EQ(e.type, StepType::exec);
    EXPECT_EQ(e.name, "ptbench");
    EXPECT_EQ(e.index, 2U);
    EXPECT_EQ(e.args, (std::vector<std::string>{"--mode", "mshare"}));
    EXPECT_FALSE(e.expect_exit.has_value());
    EXPECT_EQ(e.output, OutputFormat::json);
    EXPECT_EQ(e.save, "bench");
    EXPECT_EQ(e.timeout_seconds, 60);
    const auto& q = s.steps[3];
    EXPECT_TRUE(q.always);
    ASSERT_EQ(q.asserts.size(), 2U);
    EXPECT_TRUE(q.asserts[0].count);
    EXPECT_EQ(q.asserts[0].where.size(), 1U);
    EXPECT_EQ(q.asserts[1].op, Op::approx);
    EXPECT_EQ(q.asserts[1].ref, "/bench/json/x");
    EXPECT_EQ(q.asserts[1].relative_tolerance, 0.1);
    EXPECT_EQ(q.asserts[1].field, "/scenarios/0/steps/3/assert/1");
    EXPECT_EQ(s.steps[6].name, "sleep 0.5 s");
    EXPECT_EQ(s.steps[7].type, StepType::check);
}

TEST_F(ParserTest, InlineVmResolvesAgainstTheScenarioFile) {
    const auto f = load(R"({"scenarios": [{"name": "a",
        "vm": {"kernel": "../../images/bzImage", "memory_mib": 128}, "steps": [{"type": "pause"}]}]})");
    ASSERT_TRUE(f.scenarios[0].vm.has_value());
    EXPECT_EQ(f.scenarios[0].vm->kernel, dir_.path() / "images/bzImage");
    EXPECT_EQ(f.scenarios[0].vm->memory_mib, 128U);
}

TEST_F(ParserTest, BaseConfigWithOverridesKeepsTheBaseFilesPaths) {
    const auto f = load(R"({"scenarios": [{"name": "a",
        "vm": {"base": "../vm.json", "memory_mib": 2048, "cmdline": "quiet"},
        "steps": [{"type": "pause"}]}]})");
    const auto& vm = *f.scenarios[0].vm;
    EXPECT_EQ(vm.kernel, dir_.path() / "images/bzImage");  // relative to configs/vm.json
    EXPECT_EQ(vm.memory_mib, 2048U);
    EXPECT_EQ(vm.vcpus, 2U);
    EXPECT_EQ(vm.cmdline, "quiet");
}

TEST_F(ParserTest, MissingKernelSkipsTheScenarioButStillValidates) {
    auto f = load(R"({"scenarios": [{"name": "a",
        "vm": {"kernel": "../../images/nothing", "memory_mib": 128}, "steps": [{"type": "pause"}]}]})");
    EXPECT_FALSE(f.scenarios[0].vm.has_value());
    EXPECT_THAT(f.scenarios[0].skip_reason,
                AllOf(HasSubstr("prerequisite missing: kernel"), HasSubstr("images/nothing")));
    // The rest of the config is still checked.
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a",
        "vm": {"kernel": "../../images/nothing", "memory_mib": 1}, "steps": [{"type": "pause"}]}]})"),
                AllOf(HasSubstr("scenario 0 'a'"), HasSubstr("/scenarios/0/vm/memory_mib"),
                      HasSubstr("out of range")));
}

TEST_F(ParserTest, DefaultsAndSetupStepsApplyToEveryScenario) {
    const auto f = load(R"({
      "defaults": {"vm": "../vm.json", "timeout": 77,
                   "setup": [{"type": "wait_until", "command": "ping"}]},
      "scenarios": [
        {"name": "a", "steps": [{"type": "pause"}]},
        {"name": "b", "timeout": 5, "setup": [], "steps": [{"type": "resume"}]}
      ]})");
    ASSERT_EQ(f.scenarios.size(), 2U);
    EXPECT_EQ(f.scenarios[0].time_limit_seconds, 77);
    ASSERT_EQ(f.scenarios[0].steps.size(), 2U);
    EXPECT_EQ(f.scenarios[0].steps[0].command, "ping");
    EXPECT_EQ(f.scenarios[0].steps[1].type, StepType::pause);
    EXPECT_EQ(f.scenarios[0].steps[1].index, 1U);
    EXPECT_EQ(f.scenarios[1].time_limit_seconds, 5);
    ASSERT_EQ(f.scenarios[1].steps.size(), 1U);
}

TEST_F(ParserTest, MatrixExpandsWithTypedSubstitution) {
    const auto f = load(R"({"scenarios": [{
        "name": "pt-${mode}-N${N}",
        "matrix": {"N": [2, 64], "mode": ["mshare", "shmem"]},
        "vm": {"base": "../vm.json", "vcpus": "${N}"},
        "steps": [{"type": "exec", "path": "/bin/ptbench",
                   "args": ["--mode", "${mode}", "--procs", "${N}", "cost $${HOME}"],
                   "assert": [{"pointer": "/x", "op": "==", "value": "${N}"}]}]}]})");
    ASSERT_EQ(f.scenarios.size(), 4U);
    EXPECT_EQ(f.scenarios[0].name, "pt-mshare-N2");
    EXPECT_EQ(f.scenarios[1].name, "pt-shmem-N2");
    EXPECT_EQ(f.scenarios[3].name, "pt-shmem-N64");
    EXPECT_EQ(f.scenarios[3].parameters, json({{"N", 64}, {"mode", "shmem"}}));
    EXPECT_EQ(f.scenarios[3].vm->vcpus, 64U);
    EXPECT_EQ(f.scenarios[3].steps[0].args,
              (std::vector<std::string>{"--mode", "shmem", "--procs", "64", "cost ${HOME}"}));
    EXPECT_EQ(*f.scenarios[3].steps[0].asserts[0].value, json(64));
    EXPECT_EQ(f.scenarios[3].index, 3U);
}

TEST_F(ParserTest, MatrixAsParameterSets) {
    const auto f = load(R"({"scenarios": [{
        "name": "share-N${N}", "matrix": [{"N": 2, "min": 0.4}, {"N": 64, "min": 0.9}],
        "vm": "../vm.json",
        "steps": [{"type": "query", "command": "c",
                   "assert": [{"pointer": "/r", "op": ">=", "value": "${min}"}]}]}]})");
    ASSERT_EQ(f.scenarios.size(), 2U);
    EXPECT_EQ(f.scenarios[1].name, "share-N64");
    EXPECT_EQ(f.scenarios[1].parameters, json({{"N", 64}, {"min", 0.9}}));
    EXPECT_EQ(*f.scenarios[1].steps[0].asserts[0].value, json(0.9));
}

TEST_F(ParserTest, ExpectedOutOfMemoryGetsDefaultPatterns) {
    const auto f = load(R"({"scenarios": [{"name": "a", "vm": "../vm.json",
        "expect": {"outcome": "out-of-memory"}, "steps": [{"type": "pause"}]}]})");
    EXPECT_EQ(f.scenarios[0].expect.outcome, Outcome::out_of_memory);
    EXPECT_EQ(f.scenarios[0].expect.patterns, default_oom_patterns());
}

// --- Bad input: the file as a whole.

TEST_F(ParserTest, InvalidJsonNamesLineAndColumn) {
    EXPECT_THAT(error_of("{\n  \"scenarios\": [,]\n}"),
                AllOf(HasSubstr("scenario file '"), HasSubstr("s.json"),
                      HasSubstr("invalid JSON at line 2, column 17")));
}

TEST_F(ParserTest, UnreadableFileIsNamed) {
    try {
        (void)load_scenario_file(dir_.path() / "nope.json");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), AllOf(HasSubstr("nope.json"), HasSubstr("cannot be read")));
    }
}

TEST_F(ParserTest, BadTopLevel) {
    EXPECT_THAT(error_of("[]"), HasSubstr("/: must be an object, not an array"));
    EXPECT_THAT(error_of(R"({"scenarios": [], "x": 1})"),
                AllOf(HasSubstr("/x: unknown key in a scenario file"),
                      HasSubstr("known keys: defaults, description, scenarios")));
    EXPECT_THAT(error_of("{}"), HasSubstr("/scenarios: is required"));
    EXPECT_THAT(
        error_of(R"({"scenarios": []})"),
        HasSubstr("/scenarios: must be a non-empty array of scenarios, not an empty array"));
    EXPECT_THAT(error_of(R"({"scenarios": {}})"), HasSubstr("not an object"));
    EXPECT_THAT(error_of(R"({"defaults": {"steps": []}, "scenarios": [{}]})"),
                HasSubstr("/defaults/steps: unknown key in the defaults"));
}

TEST_F(ParserTest, BadScenarios) {
    EXPECT_THAT(error_of(R"({"scenarios": [3]})"),
                HasSubstr("/scenarios/0: must be an object, not a number"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "stepz": []}]})"),
                HasSubstr("/scenarios/0/stepz: unknown key in a scenario"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"steps": []}]})"),
                HasSubstr("/scenarios/0/name: is required"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a b", "vm": "../vm.json",
                                            "steps": [{"type": "pause"}]}]})"),
                HasSubstr("/scenarios/0/name: 'a b' must be 1 to 100 characters"));
    EXPECT_THAT(error_of(R"({"scenarios": [
                    {"name": "a", "vm": "../vm.json", "steps": [{"type": "pause"}]},
                    {"name": "a", "vm": "../vm.json", "steps": [{"type": "pause"}]}]})"),
                AllOf(HasSubstr("scenario 1 'a'"), HasSubstr("is used twice in this file")));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "steps": [{"type": "pause"}]}]})"),
                HasSubstr("/scenarios/0/vm: is required"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "vm": "../vm.json"}]})"),
                HasSubstr("/scenarios/0/steps: is required"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "vm": "../vm.json", "steps": []}]})"),
                HasSubstr("/scenarios/0/steps: must be a non-empty array of steps"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "vm": "../vm.json", "timeout": 0,
                                            "steps": [{"type": "pause"}]}]})"),
                HasSubstr("/scenarios/0/timeout: 0 is out of range"));
}

TEST_F(ParserTest, BadVm) {
    EXPECT_THAT(
        error_of(R"({"scenarios": [{"name": "a", "vm": 5, "steps": [{"type": "pause"}]}]})"),
        HasSubstr("/scenarios/0/vm: must be a config file name or an object"));
    EXPECT_THAT(
        error_of(
            R"({"scenarios": [{"name": "a", "vm": "../nope.json", "steps": [{"type": "pause"}]}]})"),
        AllOf(HasSubstr("/scenarios/0/vm: config '"), HasSubstr("nope.json' cannot be read")));
    dir_.write("configs/broken.json", "{");
    EXPECT_THAT(
        error_of(
            R"({"scenarios": [{"name": "a", "vm": "../broken.json", "steps": [{"type": "pause"}]}]})"),
        HasSubstr("is not valid JSON"));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "vm": {"base": "../vm.json", "vcpu": 2},
                                            "steps": [{"type": "pause"}]}]})"),
                AllOf(HasSubstr("scenario 0 'a'"), HasSubstr("/scenarios/0/vm/vcpu: unknown key")));
    EXPECT_THAT(error_of(R"({"scenarios": [{"name": "a", "vm": {"memory_mib": 128},
                                            "steps": [{"type": "pause"}]}]})"),
                HasSubstr("/scenarios/0/vm/kernel: is required"));
}

// --- Bad steps.

TEST_F(ParserTest, StepErrorsNameTheStepIndexNameAndField) {
    EXPECT_THAT(error_of_steps(R"([{"type": "pause"}, {"type": "dance", "name": "twirl"}])"),
                AllOf(HasSubstr("s.json"), HasSubstr("scenario 0 't'"), HasSubstr("step 1 'twirl'"),
                      HasSubstr("/scenarios/0/steps/1/type"),
                      HasSubstr("'dance' is not a step type (known: check, exec, exec_wait, pause, "
                                "query, require, resume, sleep, wait_event, wait_until)")));
    EXPECT_THAT(
        error_of_steps(R"([{"name": "x"}])"),
        AllOf(HasSubstr("step 0 'x'"), HasSubstr("/scenarios/0/steps/0/type: is required")));
    EXPECT_THAT(error_of_steps(R"(["pause"])"),
                HasSubstr("step 0: /scenarios/0/steps/0: must be an object, not a string"));
    EXPECT_THAT(
        error_of_steps(R"([{"type": "exec", "name": "run", "path": "/bin/x", "argv": []}])"),
        AllOf(HasSubstr("step 0 'run'"), HasSubstr("/scenarios/0/steps/0/argv"),
              HasSubstr("unknown key in a exec step"), HasSubstr("args")));
    EXPECT_THAT(error_of_steps(R"([{"type": "pause", "save": "x"}])"),
                HasSubstr("/scenarios/0/steps/0/save: unknown key in a pause step"));
    EXPECT_THAT(error_of_steps(R"([{"type": "sleep", "seconds": 1, "timeout": 3}])"),
                HasSubstr("/timeout: unknown key in a sleep step"));
    EXPECT_THAT(error_of_steps(R"([{"type": "pause", "name": 3}])"),
                HasSubstr("/scenarios/0/steps/0/name: must be a string, not a number"));
}

TEST_F(ParserTest, BadExecSteps) {
    EXPECT_THAT(error_of_steps(R"([{"type": "exec"}])"),
                HasSubstr("/scenarios/0/steps/0/path: is required"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "bin/x"}])"),
                HasSubstr("'bin/x' must be an absolute path in the guest"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "args": ["a", null]}])"),
                HasSubstr("step 0: /scenarios/0/steps/0/args/1: must be a string or a number, not "
                          "null"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "args": "a"}])"),
                HasSubstr("/args: must be an array of strings, not a string"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "env": ["=1"]}])"),
                HasSubstr("/env/0: '=1' is not NAME=VALUE"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "expect_exit": 300}])"),
                HasSubstr("/expect_exit: 300 is not an exit status (0 to 255) or \"any\""));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "stdout": "xml"}])"),
                HasSubstr("/stdout: 'xml' is not one of text, json, json-lines"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "timeout": -1}])"),
                HasSubstr("/timeout: -1 is out of range"));
}

TEST_F(ParserTest, BackgroundExecAndItsWait) {
    const auto f = load(R"({"scenarios": [{"name": "t", "vm": "../vm.json", "steps": [
        {"type": "exec", "path": "/bin/ptbench", "background": true, "save": "bench"},
        {"type": "pause"},
        {"type": "exec_wait", "exec": "bench", "timeout": 30,
         "assert": [{"pointer": "/exit_code", "op": "==", "value": 0}]}]}]})");
    const auto& steps = f.scenarios[0].steps;
    EXPECT_TRUE(steps[0].background);
    EXPECT_EQ(steps[2].type, StepType::exec_wait);
    EXPECT_EQ(steps[2].exec_step, 0U);
    EXPECT_EQ(steps[2].name, "wait for bench");

    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "background": true}])"),
                HasSubstr("/save: is required for a background exec"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "background": true, "save": "b",
                                    "assert": [{"pointer": "", "op": "exists"}]}])"),
                HasSubstr("/assert: a background exec has no result yet"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "save": "b"},
                                   {"type": "exec_wait", "exec": "b"}])"),
                AllOf(HasSubstr("step 1 'wait for b'"), HasSubstr("/scenarios/0/steps/1/exec"),
                      HasSubstr("'b' is not the save name of an earlier background exec step")));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec_wait", "exec": "b"},
                                   {"type": "exec", "path": "/x", "background": true, "save": "b"}])"),
                HasSubstr("is not the save name of an earlier background exec step"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "background": true, "save": "b"},
                                   {"type": "exec_wait", "exec": "b"},
                                   {"type": "exec_wait", "exec": "b"}])"),
                HasSubstr("'b' is already waited for"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec_wait"}])"), HasSubstr("/exec: is required"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec_wait", "exec": "b", "save": "c"}])"),
                HasSubstr("/save: unknown key in a exec_wait step"));
}

TEST_F(ParserTest, BadOtherSteps) {
    EXPECT_THAT(error_of_steps(R"([{"type": "query"}])"), HasSubstr("/command: is required"));
    EXPECT_THAT(error_of_steps(R"([{"type": "query", "command": ""}])"),
                HasSubstr("/command: must not be empty"));
    EXPECT_THAT(error_of_steps(R"([{"type": "query", "command": "c", "arguments": []}])"),
                HasSubstr("/arguments: must be an object, not an array"));
    EXPECT_THAT(error_of_steps(R"([{"type": "wait_event"}])"), HasSubstr("/event: is required"));
    EXPECT_THAT(error_of_steps(R"([{"type": "wait_event", "event": "X", "data": 1}])"),
                HasSubstr("/data: must be an object"));
    EXPECT_THAT(error_of_steps(R"([{"type": "wait_until", "command": "c", "interval": 0}])"),
                HasSubstr("/interval: 0 is out of range"));
    EXPECT_THAT(error_of_steps(R"([{"type": "sleep"}])"), HasSubstr("/seconds: is required"));
    EXPECT_THAT(error_of_steps(R"([{"type": "sleep", "seconds": "1"}])"),
                HasSubstr("/seconds: must be a number, not a string"));
    EXPECT_THAT(error_of_steps(R"([{"type": "check"}])"),
                HasSubstr("/assert: is required: a check step needs at least one assertion"));
    EXPECT_THAT(error_of_steps(R"([{"type": "query", "command": "c", "save": "a/b"}])"),
                HasSubstr("/save: 'a/b' must not contain / or ~"));
    EXPECT_THAT(
        error_of_steps(R"([{"type": "query", "command": "c", "save": "a"},
                                   {"type": "query", "command": "d", "save": "a", "name": "again"}])"),
        AllOf(HasSubstr(
            "step 1 'again': /scenarios/0/steps/1/save: 'a' is already saved by an earlier step")));
    EXPECT_THAT(error_of_steps(R"([{"type": "query", "command": "c", "assert": {}}])"),
                HasSubstr("/assert: must be an array of assertions, not an object"));
    EXPECT_THAT(error_of_steps(R"([{"type": "pause", "always": 1}])"),
                HasSubstr("/always: must be true or false"));
}

TEST_F(ParserTest, RequireSteps) {
    const auto f = load(R"({"scenarios": [{"name": "t", "vm": "../vm.json", "steps": [
        {"type": "require", "commands": ["mshare-guest-exec", "mshare-query-regions"]},
        {"type": "require", "guest_paths": ["/sys/fs/mshare/mshare_info"],
         "reason": "a kernel with msharefs", "timeout": 30}]}]})");
    const auto& steps = f.scenarios[0].steps;
    ASSERT_EQ(steps.size(), 2U);
    EXPECT_EQ(steps[0].type, StepType::require);
    EXPECT_EQ(steps[0].commands,
              (std::vector<std::string>{"mshare-guest-exec", "mshare-query-regions"}));
    EXPECT_EQ(steps[0].name, "require mshare-guest-exec mshare-query-regions");
    EXPECT_EQ(steps[1].guest_paths, (std::vector<std::string>{"/sys/fs/mshare/mshare_info"}));
    EXPECT_EQ(steps[1].reason, "a kernel with msharefs");
    EXPECT_EQ(to_string(StepType::require), "require");

    EXPECT_THAT(error_of_steps(R"([{"type": "require"}])"),
                HasSubstr("/commands: a require step needs at least one of commands and "
                          "guest_paths"));
    EXPECT_THAT(error_of_steps(R"([{"type": "require", "guest_paths": ["sys/fs/mshare"]}])"),
                HasSubstr("/guest_paths/0: 'sys/fs/mshare' must be an absolute path"));
    EXPECT_THAT(error_of_steps(R"([{"type": "require", "commands": "x"}])"),
                HasSubstr("/commands: "));
    EXPECT_THAT(error_of_steps(R"([{"type": "require", "commands": ["x"], "save": "r"}])"),
                HasSubstr("/save: unknown key in a require step"));
    EXPECT_THAT(error_of_steps(R"([{"type": "require", "commands": ["x"],
                                    "assert": [{"pointer": "", "op": "exists"}]}])"),
                HasSubstr("/assert: unknown key in a require step"));
}

// --- Bad assertions.

TEST_F(ParserTest, BadAssertions) {
    const std::string at = "step 0 'q': /scenarios/0/steps/0/assert/0";
    EXPECT_THAT(error_of_assertion("1"), HasSubstr(at + ": must be an object, not a number"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "vlaue": 2})"),
                AllOf(HasSubstr(at + "/vlaue: unknown key in an assertion"),
                      HasSubstr("relative_tolerance")));
    EXPECT_THAT(error_of_assertion(R"({"op": "==", "value": 1})"),
                HasSubstr(at + "/pointer: is required"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "a", "op": "==", "value": 1})"),
                HasSubstr(at + "/pointer: 'a' is not a JSON pointer"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a~2", "op": "==", "value": 1})"),
                HasSubstr("is not a JSON pointer"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "value": 1})"),
                HasSubstr(at + "/op: is required"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "=<", "value": 1})"),
                HasSubstr(at + "/op: '=<' is not an operator"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "=="})"),
                HasSubstr(at + "/value: op '==' needs exactly one of \"value\""));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "ref": "/b"})"),
                HasSubstr("needs exactly one of"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "<=", "value": "big"})"),
                HasSubstr(at + "/value: must be a number for op '<=', not a string"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "approx", "value": 1})"),
                HasSubstr(at + "/tolerance: op 'approx' needs exactly one of"));
    EXPECT_THAT(
        error_of_assertion(
            R"({"pointer": "/a", "op": "approx", "value": 1, "tolerance": 1, "relative_tolerance": 0.1})"),
        HasSubstr("needs exactly one of"));
    EXPECT_THAT(
        error_of_assertion(R"({"pointer": "/a", "op": "approx", "value": 1, "tolerance": -1})"),
        HasSubstr(at + "/tolerance: -1 must be a number of at least 0"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "tolerance": 1})"),
                HasSubstr(at + "/tolerance: applies only to op 'approx'"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "exists", "value": 1})"),
                HasSubstr(at + "/value: does not apply to op 'exists'"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "absent", "count": true})"),
                HasSubstr(at + "/count: does not apply to op 'absent'"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "count": true, "value": "1"})"),
                HasSubstr(at + "/value: must be a number for op '==' with count"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "count": "yes", "value": 1})"),
                HasSubstr(at + "/count: must be true or false"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "where": []})"),
                HasSubstr(at + "/where: needs \"count\": true"));
    EXPECT_THAT(error_of_assertion(
                    R"({"pointer": "/a", "op": "==", "value": 1, "count": true, "where": []})"),
                HasSubstr(at + "/where: must be a non-empty array"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "count": true,
                                       "where": [{"pointer": "/b", "op": "==", "ref": "/c"}]})"),
                HasSubstr(at + "/where/0/ref: is not allowed inside \"where\""));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "count": true,
                                       "where": [{"pointer": "/b", "op": "nope"}]})"),
                HasSubstr(at + "/where/0/op: 'nope' is not an operator"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": "x", "scale": 2})"),
                HasSubstr(at + "/scale: needs a numeric value"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "ref": "b"})"),
                HasSubstr(at + "/ref: 'b' is not a JSON pointer"));
    EXPECT_THAT(error_of_assertion(R"({"pointer": "/a", "op": "==", "value": 1, "name": ""})"),
                HasSubstr(at + "/name: must not be empty"));
}

// --- Console, outcome, matrix.

TEST_F(ParserTest, BadConsoleAndExpect) {
    const auto with = [&](std::string_view key, std::string_view value) {
        return error_of(cat(R"({"scenarios": [{"name": "a", "vm": "../vm.json", ")", key,
                            "\": ", value, R"(, "steps": [{"type": "pause"}]}]})"));
    };
    EXPECT_THAT(with("console", R"({"forbidden": []})"),
                HasSubstr("/scenarios/0/console/forbidden: unknown key in the console policy"));
    EXPECT_THAT(
        with("console", R"({"forbid": ["a(b"]})"),
        HasSubstr("/scenarios/0/console/forbid/0: 'a(b' is not a valid regular expression"));
    EXPECT_THAT(with("console", R"({"require": [""]})"),
                HasSubstr("/scenarios/0/console/require/0: must not be empty"));
    EXPECT_THAT(with("console", R"({"defaults": "no"})"),
                HasSubstr("/scenarios/0/console/defaults: must be true or false"));
    EXPECT_THAT(
        with("expect", R"({"outcome": "oom"})"),
        HasSubstr("/scenarios/0/expect/outcome: 'oom' is not one of success, out-of-memory"));
    EXPECT_THAT(with("expect", R"({"patterns": ["x"]})"),
                HasSubstr("/scenarios/0/expect/patterns: applies only to outcome 'out-of-memory'"));
    EXPECT_THAT(with("expect", R"({"result": 1})"),
                HasSubstr("/scenarios/0/expect/result: unknown key in the expected outcome"));
}

TEST_F(ParserTest, BadMatrix) {
    const auto with = [&](std::string_view name, std::string_view matrix) {
        return error_of(cat(R"({"scenarios": [{"name": ")", name, R"(", "matrix": )", matrix,
                            R"(, "vm": "../vm.json", "steps": [{"type": "pause"}]}]})"));
    };
    EXPECT_THAT(with("a", "3"), HasSubstr("/scenarios/0/matrix: must be an object (parameter: "
                                          "values) or an array of parameter sets, not a number"));
    EXPECT_THAT(with("a", "[]"),
                HasSubstr("/scenarios/0/matrix: must have at least one parameter set"));
    EXPECT_THAT(with("a${N}", R"([{"N": 1}, 2])"),
                HasSubstr("/scenarios/0/matrix/1: must be a non-empty object of parameters"));
    EXPECT_THAT(with("a${N}", R"([{"N": 1}, {"N": []}])"),
                HasSubstr("/scenarios/0/matrix/1/N: must be a string, number or boolean"));
    EXPECT_THAT(with("a${N}", R"([{"N": 1, "M": 2}, {"N": 2}])"),
                HasSubstr("/scenarios/0/matrix/1: lacks parameter 'M' that set 0 has"));
    EXPECT_THAT(with("a${N}", R"([{"N": 1}, {"N": 2, "M": 2}])"),
                HasSubstr("/scenarios/0/matrix/1/M: parameter 'M' is not in set 0"));
    EXPECT_THAT(with("a", "{}"), HasSubstr("/scenarios/0/matrix: must have at least one"));
    EXPECT_THAT(with("a${N}", R"({"N": []})"),
                HasSubstr("/scenarios/0/matrix/N: must be a non-empty array of values"));
    EXPECT_THAT(with("a${N}", R"({"N": [1, {}]})"),
                HasSubstr("/scenarios/0/matrix/N/1: must be a string, number or boolean"));
    EXPECT_THAT(with("a${N}", R"({"1N": [1]})"), HasSubstr("parameter names are letters"));
    EXPECT_THAT(with("a", R"({"N": [1, 2]})"),
                AllOf(HasSubstr("scenario 1 'a'"), HasSubstr("is used twice in this file"),
                      HasSubstr("put every matrix parameter in the name")));
    EXPECT_THAT(with("a${M}", R"({"N": [1]})"),
                AllOf(HasSubstr("/scenarios/0/name: 'a${M}': unknown parameter 'M'"),
                      HasSubstr("(matrix parameters: N)")));
    EXPECT_THAT(with("a${N", R"({"N": [1]})"), HasSubstr("unterminated ${"));
    EXPECT_THAT(error_of_steps(R"([{"type": "exec", "path": "/x", "args": ["${HOME}"]}])"),
                AllOf(HasSubstr("/scenarios/0/steps/0/args/0"),
                      HasSubstr("unknown parameter 'HOME' (the scenario has no matrix)")));
}

}  // namespace
}  // namespace mvmm::scenario
