// The runner against a scripted fake VM: steps, assertions, events, time
// limits, console checks, expected outcomes, parallel runs.
#include <algorithm>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/runner.hpp>

#include "scenario/fake_vm.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::scenario {
namespace {

using fake::FakeLauncher;
using fake::FakeProgram;
using fake::FakeVm;
using nlohmann::json;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class RunnerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_.write("images/bzImage", "kernel");
        options_.output_dir = dir_.path() / "results";
        options_.exec_poll_seconds = 0.001;
        options_.shutdown_grace_seconds = 1;
    }

    // Parses a file with one scenario: `body` is the scenario's members
    // after name and vm.
    const Scenario& scenario(std::string_view body) {
        const auto file = dir_.write(
            "s.json", cat(R"({"scenarios": [{"name": "t", "vm": {"kernel": "images/bzImage"}, )",
                          body, "}]}"));
        files_.push_back(load_scenario_file(file));
        return files_.back().scenarios.front();
    }

    ScenarioResult run(const Scenario& s, FakeLauncher& launcher) {
        return run_scenario(s, launcher, options_, progress_);
    }

    test::TempDir dir_;
    RunOptions options_;
    NullProgress progress_;
    std::deque<ScenarioFile> files_;
};

const char* const kBench = R"({"procs": 8, "minflt": 800, "page_tables": 4096})";

void standard_guest(FakeVm& vm, const VmConfig& /*config*/) {
    vm.on("mshare-guest-ping", [](const json&, Deadline) { return json::object(); });
    vm.on("mshare-accounting", [](const json&, Deadline) {
        return json{{"totals", {{"page_table_bytes", 8192}, {"savings_ratio", 7.9}}},
                    {"shared_puds", json::array({{{"consistent", true}}})}};
    });
    FakeProgram bench;
    bench.out = kBench;
    bench.polls_before_exit = 3;
    vm.add_program("/bin/ptbench", bench);
    vm.append_console("Linux version 6.12.0\nmshare: ok\n");
}

TEST_F(RunnerTest, PassingScenarioRunsEveryStepAndSavesResults) {
    const auto& s = scenario(R"("steps": [
        {"type": "wait_until", "command": "mshare-guest-ping"},
        {"type": "exec", "name": "bench", "path": "/bin/ptbench", "args": ["--procs", "8"],
         "env": ["X=1"], "stdout": "json", "save": "bench",
         "assert": [{"pointer": "/json/procs", "op": "==", "value": 8}]},
        {"type": "query", "command": "mshare-accounting", "save": "acct",
         "assert": [{"pointer": "/shared_puds", "count": true, "op": "==", "value": 1},
                    {"pointer": "/totals/savings_ratio", "op": ">=", "value": 7}]},
        {"type": "pause"}, {"type": "resume"},
        {"type": "check", "assert": [{"pointer": "/acct/totals/page_table_bytes", "op": "approx",
                                      "ref": "/bench/json/page_tables", "scale": 2,
                                      "tolerance": 0}]}
    ])");
    FakeLauncher launcher(standard_guest);
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::passed) << (r.failures.empty() ? "" : r.failures.front());
    EXPECT_TRUE(r.failures.empty());
    ASSERT_EQ(r.steps.size(), 6U);
    for (const auto& step : r.steps) {
        EXPECT_EQ(step.status, StepStatus::passed) << step.name << ": " << step.message;
    }
    EXPECT_EQ(r.saved["bench"]["json"]["minflt"], 800);
    EXPECT_EQ(r.saved["bench"]["exit_code"], 0);
    EXPECT_EQ(r.saved["bench"]["stdout"], kBench);
    EXPECT_EQ(r.saved["acct"]["totals"]["page_table_bytes"], 8192);
    EXPECT_EQ(r.steps[1].assertions.size(), 1U);
    EXPECT_THAT(r.steps[1].assertions[0], HasSubstr("ok: /json/procs == 8"));

    auto* vm = launcher.vms().at(0);
    const auto exec_args = vm->arguments_of("mshare-guest-exec");
    ASSERT_EQ(exec_args.size(), 1U);
    EXPECT_EQ(exec_args[0]["path"], "/bin/ptbench");
    EXPECT_EQ(exec_args[0]["args"], json::array({"--procs", "8"}));
    EXPECT_EQ(exec_args[0]["env"], json::array({"X=1"}));
    EXPECT_EQ(exec_args[0]["capture-output"], true);
    EXPECT_EQ(vm->arguments_of("mshare-guest-exec-status").size(), 4U);  // 3 running + exited
    EXPECT_EQ(vm->arguments_of("stop").size(), 1U);
    EXPECT_EQ(vm->arguments_of("cont").size(), 1U);
    EXPECT_TRUE(vm->shut_down());
    EXPECT_FALSE(vm->killed());
    EXPECT_TRUE(r.console_tail.empty());  // only kept for failures
    EXPECT_TRUE(std::filesystem::is_directory(dir_.path() / "results/s/t"));
}

TEST_F(RunnerTest, FailedAssertionStopsTheScenarioButAlwaysStepsRun) {
    const auto& s = scenario(R"("steps": [
        {"type": "query", "name": "acct", "command": "mshare-accounting",
         "assert": [{"name": "tiny", "pointer": "/totals/page_table_bytes", "op": "<=", "value": 4096},
                    {"pointer": "/totals/savings_ratio", "op": ">", "value": 1}]},
        {"type": "pause"},
        {"type": "query", "name": "report", "command": "mshare-accounting", "always": true,
         "save": "final"}
    ])");
    FakeLauncher launcher(standard_guest);
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    ASSERT_EQ(r.failures.size(), 1U);
    EXPECT_THAT(r.failures[0],
                AllOf(HasSubstr("step 0 'acct'"), HasSubstr("assertion failed"),
                      HasSubstr("tiny (/totals/page_table_bytes <= 4096): actual 8192")));
    EXPECT_EQ(r.steps[0].status, StepStatus::failed);
    EXPECT_THAT(r.steps[0].assertions,
                ElementsAre(HasSubstr("FAILED: tiny"), HasSubstr("ok: /totals/savings_ratio")));
    EXPECT_EQ(r.steps[1].status, StepStatus::not_run);
    EXPECT_EQ(r.steps[2].status, StepStatus::passed);
    EXPECT_TRUE(r.saved.contains("final"));
    EXPECT_THAT(r.console_tail, ElementsAre("Linux version 6.12.0", "mshare: ok"));
}

TEST_F(RunnerTest, ExecFailuresSayHowTheProgramEnded) {
    const auto& s = scenario(R"("steps": [{"type": "exec", "path": "/bin/bad"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.exit_code = 2;
        p.err = "line 1\nptbench: mmap: Cannot allocate memory\n";
        vm.add_program("/bin/bad", p);
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.failures.at(0), AllOf(HasSubstr("/bin/bad exited with status 2, expected 0"),
                                        HasSubstr("ptbench: mmap: Cannot allocate memory")));

    const auto& k = scenario(R"("steps": [{"type": "exec", "path": "/bin/killed"}])");
    FakeLauncher l2([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.signal = 9;
        vm.add_program("/bin/killed", p);
    });
    EXPECT_THAT(run(k, l2).failures.at(0), HasSubstr("/bin/killed was killed by signal 9"));

    const auto& missing = scenario(R"("steps": [{"type": "exec", "path": "/bin/nope"}])");
    EXPECT_THAT(run(missing, l2).failures.at(0),
                HasSubstr("command 'mshare-guest-exec' failed: GenericError: guest-exec: "
                          "/bin/nope: No such file"));
}

TEST_F(RunnerTest, ExecWithAnyExitAndBadJsonOutput) {
    const auto& s = scenario(R"("steps": [
        {"type": "exec", "path": "/bin/p", "expect_exit": "any", "save": "p"},
        {"type": "exec", "path": "/bin/p", "expect_exit": 1, "stdout": "json-lines"}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.exit_code = 1;
        p.out = "{\"a\": 1}\n\nnot json\n";
        vm.add_program("/bin/p", p);
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.steps[0].status, StepStatus::passed);
    EXPECT_EQ(r.saved["p"]["exit_code"], 1);
    EXPECT_EQ(r.steps[1].status, StepStatus::failed);
    EXPECT_THAT(r.steps[1].message, HasSubstr("stdout of /bin/p is not JSON lines (line 3:"));
}

TEST_F(RunnerTest, JsonLinesBecomeAnArray) {
    const auto& s = scenario(R"("steps": [
        {"type": "exec", "path": "/bin/p", "stdout": "json-lines", "save": "p",
         "assert": [{"pointer": "/json", "count": true, "op": "==", "value": 2},
                    {"pointer": "/json/1/phase", "op": "==", "value": "hold"}]}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.out = "{\"phase\": \"attach\"}\n\n{\"phase\": \"hold\"}\n";
        vm.add_program("/bin/p", p);
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::passed) << (r.failures.empty() ? "" : r.failures.front());
}

TEST_F(RunnerTest, BackgroundExecRunsWhileOtherStepsQueryTheGuest) {
    const auto& s = scenario(R"("steps": [
        {"type": "exec", "name": "bench", "path": "/bin/ptbench", "background": true,
         "stdout": "json", "save": "bench"},
        {"type": "query", "command": "mshare-accounting", "save": "during"},
        {"type": "exec_wait", "exec": "bench",
         "assert": [{"pointer": "/json/procs", "op": "==", "value": 8}]},
        {"type": "check", "assert": [{"pointer": "/bench/json/minflt", "op": "==", "value": 800}]}
    ])");
    FakeLauncher launcher(standard_guest);
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::passed) << (r.failures.empty() ? "" : r.failures.front());
    EXPECT_EQ(r.steps[0].result["background"], true);
    EXPECT_EQ(r.steps[2].result["exit_code"], 0);
    EXPECT_EQ(r.saved["bench"]["json"]["page_tables"], 4096);
    // The accounting query ran before the program was collected.
    const auto cmds = launcher.vms().at(0)->commands();
    const auto acct = std::find(cmds.begin(), cmds.end(), "mshare-accounting");
    const auto status = std::find(cmds.begin(), cmds.end(), "mshare-guest-exec-status");
    EXPECT_LT(acct - cmds.begin(), status - cmds.begin());
    // The agent's time limit for a background program is the scenario's, not the step's.
    EXPECT_GT(launcher.vms().at(0)->arguments_of("mshare-guest-exec").at(0)["timeout"], 800);
}

TEST_F(RunnerTest, FailedExecKeepsItsResult) {
    const auto& s = scenario(R"("steps": [
        {"type": "exec", "path": "/bin/p", "stdout": "json", "save": "p"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.exit_code = 1;
        p.out = R"({"outcome": "processes-died"})";
        vm.add_program("/bin/p", p);
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_EQ(r.saved["p"]["json"]["outcome"], "processes-died");
    EXPECT_EQ(r.steps[0].result["exit_code"], 1);
}

TEST_F(RunnerTest, CommandErrorsNameTheCommandAndClass) {
    const auto& s = scenario(R"("steps": [{"type": "query", "command": "mshare-nope"}])");
    FakeLauncher launcher(standard_guest);
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.failures.at(0),
                HasSubstr("command 'mshare-nope' failed: CommandNotFound: The command mshare-nope "
                          "has not been found"));
}

TEST_F(RunnerTest, WaitEventUsesEventsThatArrivedEarlierAndMatchesData) {
    const auto& s = scenario(R"("steps": [
        {"type": "query", "command": "mshare-guest-ping"},
        {"type": "wait_event", "event": "MSHARE_BOOT_COMPLETE", "save": "boot",
         "assert": [{"pointer": "/data/seconds", "op": ">", "value": 0}]},
        {"type": "wait_event", "event": "MSHARE_AGENT_READY", "data": {"port": 2}},
        {"type": "wait_event", "name": "never", "event": "SHUTDOWN", "timeout": 0.05}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.push_event("MSHARE_BOOT_COMPLETE", {{"seconds", 1.9}});
        vm.push_event("MSHARE_AGENT_READY", {{"port", 1}});
        vm.push_event("MSHARE_AGENT_READY", {{"port", 2}});
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.steps[1].status, StepStatus::passed) << r.steps[1].message;
    EXPECT_EQ(r.saved["boot"]["data"]["seconds"], 1.9);
    EXPECT_EQ(r.steps[2].status, StepStatus::passed) << r.steps[2].message;
    EXPECT_EQ(r.steps[3].status, StepStatus::failed);
    EXPECT_THAT(r.steps[3].message, HasSubstr("no SHUTDOWN event arrived in time"));
    EXPECT_EQ(r.events.size(), 3U);
    EXPECT_FALSE(r.timed_out);
}

TEST_F(RunnerTest, WaitUntilPollsUntilTheConditionHolds) {
    const auto& s = scenario(R"("steps": [
        {"type": "wait_until", "command": "count", "interval": 0.001, "save": "c",
         "assert": [{"pointer": "/n", "op": ">=", "value": 3}]},
        {"type": "wait_until", "name": "hopeless", "command": "count", "interval": 0.001,
         "timeout": 0.05, "assert": [{"pointer": "/n", "op": "<", "value": 0}]}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        auto n = std::make_shared<int>(0);
        vm.on("count", [n](const json&, Deadline) {
            if (++*n == 1) {
                throw CommandFailed("DeviceNotActive", "the guest agent is not connected");
            }
            return json{{"n", *n}};
        });
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.steps[0].status, StepStatus::passed) << r.steps[0].message;
    EXPECT_EQ(r.saved["c"]["n"], 3);
    EXPECT_EQ(r.steps[1].status, StepStatus::failed);
    EXPECT_THAT(r.steps[1].message,
                AllOf(HasSubstr("condition not reached in time"), HasSubstr("/n < 0: actual")));
}

TEST_F(RunnerTest, WaitUntilGivesUpAtOnceOnAnUnknownCommand) {
    const auto& s = scenario(R"("steps": [
        {"type": "wait_until", "command": "mshare-query-guest-meminfo", "interval": 0.001,
         "timeout": 600}
    ])");
    FakeLauncher launcher([](FakeVm&, const VmConfig&) {});
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_FALSE(r.timed_out);
    EXPECT_THAT(r.steps[0].message, HasSubstr("CommandNotFound"));
    EXPECT_EQ(launcher.vms().at(0)->arguments_of("mshare-query-guest-meminfo").size(), 1U);
}

// A fake guest whose VMM lists `commands` in query-commands and whose
// busybox finds the paths in `paths`.
void guest_with(FakeVm& vm, const std::vector<std::string>& commands,
                const std::vector<std::string>& paths) {
    vm.on("query-commands", [commands](const json&, Deadline) {
        json list = json::array();
        for (const auto& c : commands) {
            list.push_back({{"name", c}});
        }
        return list;
    });
    // exec id 1: `busybox test -e` found the path; 2: it did not.
    vm.on("mshare-guest-exec", [paths](const json& args, Deadline) {
        const auto words = args.value("args", json::array());
        const bool found = args["path"] == "/bin/busybox" && words.size() == 3 &&
                           words[0] == "test" && words[1] == "-e" &&
                           std::find(paths.begin(), paths.end(), words[2]) != paths.end();
        return json{{"exec-id", found ? 1 : 2}};
    });
    vm.on("mshare-guest-exec-status", [](const json& args, Deadline) {
        return json{{"exited", true},
                    {"exit-code", args["exec-id"] == 1 ? 0 : 1},
                    {"stdout", ""},
                    {"stderr", ""}};
    });
    vm.on("work", [](const json&, Deadline) { return json::object(); });
}

TEST_F(RunnerTest, RequireSkipsWhenTheVmmLacksACommand) {
    const auto& s = scenario(R"("expect": {"outcome": "out-of-memory"}, "steps": [
        {"type": "require", "commands": ["work", "mshare-query-regions"]},
        {"type": "query", "command": "work"},
        {"type": "query", "command": "work", "always": true}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) { guest_with(vm, {"work"}, {}); });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::skipped) << (r.failures.empty() ? "" : r.failures.front());
    EXPECT_EQ(r.skip_reason,
              "the VMM does not answer 'mshare-query-regions' (it is not in query-commands)");
    EXPECT_EQ(r.steps[0].status, StepStatus::passed);
    EXPECT_EQ(r.steps[1].status, StepStatus::not_run);
    EXPECT_EQ(r.steps[2].status, StepStatus::not_run);
    EXPECT_TRUE(launcher.vms().at(0)->arguments_of("work").empty());
    EXPECT_TRUE(launcher.vms().at(0)->shut_down());
}

TEST_F(RunnerTest, RequireSkipsWhenTheGuestLacksAPath) {
    const auto& s = scenario(R"("steps": [
        {"type": "require", "commands": ["work"]},
        {"type": "require", "guest_paths": ["/bin/ptbench", "/sys/fs/mshare/mshare_info"],
         "reason": "a kernel with msharefs"},
        {"type": "query", "command": "work"}
    ])");
    FakeLauncher launcher(
        [](FakeVm& vm, const VmConfig&) { guest_with(vm, {"work"}, {"/bin/ptbench"}); });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::skipped);
    EXPECT_EQ(r.skip_reason,
              "the guest has no /sys/fs/mshare/mshare_info (a kernel with msharefs)");
    EXPECT_EQ(r.steps[1].result["guest_paths"][0],
              (json{{"path", "/bin/ptbench"}, {"exists", true}}));
    EXPECT_EQ(r.steps[1].result["guest_paths"][1],
              (json{{"path", "/sys/fs/mshare/mshare_info"}, {"exists", false}}));
    EXPECT_EQ(r.steps[2].status, StepStatus::not_run);
    const auto execs = launcher.vms().at(0)->arguments_of("mshare-guest-exec");
    ASSERT_EQ(execs.size(), 2U);
    EXPECT_EQ(execs[0]["path"], "/bin/busybox");
    EXPECT_EQ(execs[0]["args"], json::array({"test", "-e", "/bin/ptbench"}));
}

TEST_F(RunnerTest, RequireMetRunsTheScenario) {
    const auto& s = scenario(R"("steps": [
        {"type": "require", "commands": ["work"], "guest_paths": ["/sys/fs/mshare/mshare_info"]},
        {"type": "query", "command": "work"}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        guest_with(vm, {"work"}, {"/sys/fs/mshare/mshare_info"});
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::passed) << (r.failures.empty() ? "" : r.failures.front());
    EXPECT_EQ(r.steps[1].status, StepStatus::passed);
}

TEST_F(RunnerTest, ASkippedScenarioStillFailsOnAKernelBug) {
    const auto& s = scenario(R"("steps": [{"type": "require", "commands": ["missing"]}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        guest_with(vm, {}, {});
        vm.append_console("BUG: unable to handle page fault for address: 0\n");
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.failures, ElementsAre(HasSubstr("matches 'BUG:'")));
    EXPECT_FALSE(r.console_tail.empty());
}

TEST_F(RunnerTest, HungGuestHitsTheTimeLimitAndReportsTheConsoleTail) {
    const auto& s = scenario(R"("timeout": 0.2, "steps": [
        {"type": "query", "command": "mshare-guest-ping"},
        {"type": "exec", "name": "stuck", "path": "/bin/hang"},
        {"type": "query", "command": "mshare-accounting"}
    ])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        FakeProgram p;
        p.never_exits = true;
        vm.add_program("/bin/hang", p);
        vm.append_console("rcu: INFO: rcu_sched detected stalls on CPUs/tasks:\n");
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_TRUE(r.timed_out);
    ASSERT_FALSE(r.failures.empty());
    EXPECT_THAT(r.failures[0], AllOf(HasSubstr("time limit of 0.2 s reached during step 1 'stuck'"),
                                     HasSubstr("the VM was killed")));
    EXPECT_EQ(r.steps[1].status, StepStatus::failed);
    EXPECT_EQ(r.steps[2].status, StepStatus::not_run);
    EXPECT_THAT(r.console_tail, ElementsAre("Linux version 6.12.0", "mshare: ok",
                                            "rcu: INFO: rcu_sched detected stalls on CPUs/tasks:"));
}

TEST_F(RunnerTest, BlockedCommandIsUnblockedByTheTimeLimit) {
    const auto& s = scenario(R"("timeout": 0.1, "steps": [{"type": "query", "command": "hang"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        vm.on("hang", [&vm](const json&, Deadline) -> json {
            vm.block(Clock::now() + std::chrono::hours(1));
            return {};
        });
    });
    const auto r = run(s, launcher);
    EXPECT_TRUE(r.timed_out);
    EXPECT_TRUE(launcher.vms().at(0)->killed());
    EXPECT_THAT(r.failures.at(0), HasSubstr("during step 0 'query hang'"));
}

TEST_F(RunnerTest, StepTimeoutIsAFailureOfThatStepOnly) {
    const auto& s = scenario(R"("steps": [
        {"type": "query", "name": "slow", "command": "hang", "timeout": 0.05},
        {"type": "query", "command": "mshare-guest-ping", "always": true}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.on("hang", [&vm](const json&, Deadline d) -> json {
            vm.block(d);
            return {};
        });
    });
    const auto r = run(s, launcher);
    EXPECT_FALSE(r.timed_out);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.steps[0].message, HasSubstr("command 'hang' got no reply in time"));
    EXPECT_EQ(r.steps[1].status, StepStatus::passed);
    EXPECT_FALSE(launcher.vms().at(0)->killed());
}

TEST_F(RunnerTest, ForbiddenConsoleLinesFailAPassingScenario) {
    const auto& s = scenario(R"("console": {"allow": ["WARNING: .*known"], "require": ["never"]},
                                "steps": [{"type": "query", "command": "mshare-guest-ping"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.append_console(
            "WARNING: CPU: 0 known\n"
            "BUG: KASAN: use-after-free in mshare_fault+0x10/0x20\n");
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    ASSERT_EQ(r.console_findings.size(), 1U);
    EXPECT_EQ(r.console_findings[0].line, 4U);
    EXPECT_THAT(r.failures,
                ElementsAre(HasSubstr("console line 4: 'BUG: KASAN: use-after-free in "
                                      "mshare_fault+0x10/0x20' (matches 'BUG:')"),
                            HasSubstr("no console line matches the required pattern 'never'")));
}

TEST_F(RunnerTest, ExpectedOutOfMemoryPassesWhenSeen) {
    const auto& s = scenario(R"("expect": {"outcome": "out-of-memory"}, "steps": [
        {"type": "exec", "path": "/bin/ptbench", "expect_exit": "any", "save": "bench"},
        {"type": "query", "name": "agent", "command": "mshare-guest-ping"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig&) {
        FakeProgram p;
        p.exit_code = 3;
        vm.add_program("/bin/ptbench", p);
        vm.on("mshare-guest-ping", [](const json&, Deadline) -> json {
            throw CommandFailed("DeviceNotActive", "the guest agent is not connected");
        });
        vm.append_console(
            "ptbench invoked oom-killer: gfp_mask=0x400dc0\n"
            "Out of memory: Killed process 812 (ptbench)\n");
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::passed) << (r.failures.empty() ? "" : r.failures.front());
    EXPECT_TRUE(r.out_of_memory_seen);
    EXPECT_THAT(r.out_of_memory_evidence, HasSubstr("console line 1: ptbench invoked oom-killer"));
    EXPECT_THAT(r.notes,
                ::testing::Contains(HasSubstr("after the expected out-of-memory: step 1 'agent'")));
    EXPECT_EQ(r.saved["bench"]["exit_code"], 3);
}

TEST_F(RunnerTest, ExpectedOutOfMemoryFailsWhenNotSeen) {
    const auto& s = scenario(R"("expect": {"outcome": "out-of-memory"},
        "steps": [{"type": "exec", "path": "/bin/ptbench", "expect_exit": "any"}])");
    FakeLauncher launcher(standard_guest);
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.failures, ElementsAre(HasSubstr("expected the guest to run out of memory")));
}

TEST_F(RunnerTest, UnexpectedOutOfMemoryFails) {
    const auto& s = scenario(R"("steps": [{"type": "query", "command": "mshare-guest-ping"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.append_console("ptbench: page allocation failure: order:0, mode:0x400dc0\n");
    });
    const auto r = run(s, launcher);
    EXPECT_EQ(r.status, Status::failed);
    EXPECT_THAT(r.failures, ElementsAre(HasSubstr("the guest ran out of memory unexpectedly: "
                                                  "console line 3: ptbench: page allocation")));
}

TEST_F(RunnerTest, PanicEventAndDeadVmStateFail) {
    const auto& s = scenario(R"("steps": [{"type": "query", "command": "mshare-guest-ping"}])");
    FakeLauncher launcher([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.push_event("GUEST_PANICKED", {{"action", "pause"}});
    });
    EXPECT_THAT(run(s, launcher).failures,
                ::testing::Contains(HasSubstr("the guest kernel panicked")));
    FakeLauncher l2([](FakeVm& vm, const VmConfig& c) {
        standard_guest(vm, c);
        vm.on("query-status", [](const json&, Deadline) {
            return json{{"running", false}, {"status", "shutdown"}};
        });
    });
    const auto r = run(s, l2);
    EXPECT_THAT(r.failures, ::testing::Contains(HasSubstr("the VM is in state 'shutdown'")));
    EXPECT_EQ(r.vm_status["status"], "shutdown");
}

TEST_F(RunnerTest, SkippedAndUnstartableScenarios) {
    const auto file =
        dir_.write("skip.json", R"({"scenarios": [{"name": "s", "vm": {"kernel": "images/none"},
                        "steps": [{"type": "pause"}]}]})");
    files_.push_back(load_scenario_file(file));
    FakeLauncher launcher(standard_guest);
    const auto r = run(files_.back().scenarios[0], launcher);
    EXPECT_EQ(r.status, Status::skipped);
    EXPECT_THAT(r.skip_reason, HasSubstr("prerequisite missing: kernel"));
    EXPECT_EQ(launcher.launches(), 0);

    const auto& s = scenario(R"("steps": [{"type": "pause"}])");
    launcher.fail_launch = "qemu-system-x86_64: -machine microvm: unsupported";
    const auto e = run(s, launcher);
    EXPECT_EQ(e.status, Status::error);
    EXPECT_THAT(e.failures, ElementsAre("the VM did not start: qemu-system-x86_64: -machine "
                                        "microvm: unsupported"));
    EXPECT_EQ(e.steps[0].status, StepStatus::not_run);
}

TEST_F(RunnerTest, ParallelRunsKeepTheirOrderAndOverlap) {
    const auto file = dir_.write("many.json", R"({"scenarios": [{
        "name": "p${i}", "matrix": {"i": [0, 1, 2, 3, 4]},
        "vm": {"kernel": "images/bzImage", "name": "vm${i}"},
        "steps": [{"type": "query", "command": "meet", "save": "m"}]}]})");
    files_.push_back(load_scenario_file(file));
    std::vector<const Scenario*> list;
    for (const auto& s : files_.back().scenarios) {
        list.push_back(&s);
    }
    // Each VM waits (up to 10 s) until two are inside "meet" at once, which
    // only happens when scenarios really run in parallel.
    std::mutex m;
    std::condition_variable cv;
    int inside = 0;
    int most = 0;
    FakeLauncher launcher([&](FakeVm& vm, const VmConfig& config) {
        const auto name = config.name;
        vm.on("meet", [&, name](const json&, Deadline) {
            std::unique_lock lock(m);
            ++inside;
            most = std::max(most, inside);
            cv.notify_all();
            cv.wait_for(lock, std::chrono::seconds(10), [&] { return most >= 2; });
            --inside;
            return json{{"vm", name}};
        });
    });
    options_.jobs = 3;
    const auto results = run_scenarios(list, launcher, options_, progress_);
    ASSERT_EQ(results.size(), 5U);
    for (std::size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].name, cat("p", i));
        EXPECT_EQ(results[i].status, Status::passed);
        EXPECT_EQ(results[i].saved["m"]["vm"], cat("vm", i));
    }
    EXPECT_GE(most, 2);
    EXPECT_EQ(launcher.launches(), 5);
}

}  // namespace
}  // namespace mvmm::scenario
