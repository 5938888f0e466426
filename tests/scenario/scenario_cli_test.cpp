// `mshare-vmm scenario` and `mshare-vmm plot` as a CI job runs them: exit
// statuses, error messages for bad files, and the JUnit and JSON reports.
// No guest boots: the VMs are stand-ins given with --vmm (a program that
// exits at once, one that hangs), or the scenarios are skipped.
#include <array>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "scenario/xml_check.hpp"
#include "support/files.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = test::CommandResult;  // out: stdout and stderr

std::string quoted(const std::filesystem::path& p) {
    return "'" + p.string() + "'";
}

// Runs mshare-vmm with `args` (shell words) in `dir`.
Result run(const std::filesystem::path& dir, const std::string& args) {
    const std::string cmd = "cd " + quoted(dir) + " && " + MVMM_BINARY_DIR +
                            "/vmm/app/mshare-vmm " + args + " </dev/null 2>&1";
    return test::run_shell(cmd);
}

class ScenarioCli : public ::testing::Test {
  protected:
    void SetUp() override {
        // Stand-ins for the guest images: the runner only checks that they exist.
        dir_.write("img/bzImage", "not a kernel");
        dir_.write("img/initramfs.cpio", "not an initramfs");
        dir_.write("vm.json", R"({"kernel": "img/bzImage", "initramfs": "img/initramfs.cpio",
                                  "memory_mib": 128, "vcpus": 1})");
    }

    std::filesystem::path write(const std::string& name, const std::string& text) {
        return dir_.write(name, text);
    }

    // An executable shell script.
    std::filesystem::path script(const std::string& name, const std::string& body) {
        auto p = dir_.write(name, "#!/bin/sh\n" + body + "\n");
        ::chmod(p.c_str(), 0755);
        return p;
    }

    Result run(const std::string& args) { return scenario::run(dir_.path(), args); }

    json report(const std::string& out = "out") {
        return json::parse(test::read_file(dir_.path() / out / "report.json"));
    }
    std::string junit(const std::string& out = "out") {
        return test::read_file(dir_.path() / out / "junit.xml");
    }

    test::TempDir dir_;
};

// A scenario with one step whose kernel exists (vm.json) or not.
std::string one_scenario(const std::string& name, const json& vm, double timeout = 60) {
    return json{{"scenarios",
                 {{{"name", name},
                   {"vm", vm},
                   {"timeout", timeout},
                   {"steps", {{{"type", "query"}, {"command", "query-status"}}}}}}}}
        .dump();
}

TEST_F(ScenarioCli, BadFilesExitTwoNamingTheFileThePathAndTheReason) {
    struct Case {
        const char* text;
        std::vector<std::string> expected;  // substrings of the message
    };
    const std::vector<Case> cases = {
        {R"({"scenarios": [)", {"line 1", "column"}},
        {R"([1, 2])", {"must be an object"}},
        {R"({"scenarios": []})", {"/scenarios", "non-empty"}},
        {R"({"scenarios": [{"name": "a", "vm": "vm.json", "steps": [{"type": "reboot"}]}]})",
         {"step 0", "/scenarios/0/steps/0/type", "reboot"}},
        {R"({"scenarios": [{"name": "a", "vm": "vm.json",
              "steps": [{"type": "query", "command": "x"},
                        {"type": "exec", "name": "bench", "path": "/bin/true", "args": [null]}]}]})",
         {"scenario 0 'a'", "step 1 'bench'", "/scenarios/0/steps/1/args/0"}},
        {R"({"scenarios": [{"name": "a", "vm": "vm.json", "steps": [{"type": "query",
              "command": "x", "assert": [{"pointer": "/y", "op": "=~", "value": 1}]}]}]})",
         {"/scenarios/0/steps/0/assert/0/op", "=~"}},
        {R"({"scenarios": [{"name": "a", "vm": "vm.json", "steps": [{"type": "query",
              "command": "x", "assert": [{"pointer": "y", "op": "==", "value": 1}]}]}]})",
         {"/scenarios/0/steps/0/assert/0/pointer"}},
        {R"({"scenarios": [{"name": "a-${N}", "vm": "vm.json", "matrix": {"N": []},
              "steps": [{"type": "query", "command": "x"}]}]})",
         {"/scenarios/0/matrix/N"}},
        {R"({"scenarios": [{"name": "a", "vm": {"memory_mib": "lots"},
              "steps": [{"type": "query", "command": "x"}]}]})",
         {"/scenarios/0/vm"}},
        {R"({"scenarios": [{"name": "a", "vm": "vm.json", "timeout": -1,
              "steps": [{"type": "query", "command": "x"}]}]})",
         {"/scenarios/0/timeout"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        const auto file = write("bad.json", c.text);
        const auto r = run("scenario bad.json -o out --plain");
        EXPECT_EQ(r.status, 2) << r.out;
        EXPECT_THAT(r.out, HasSubstr("scenario file " + quoted(file)));
        for (const auto& e : c.expected) {
            EXPECT_THAT(r.out, HasSubstr(e));
        }
        EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out"))
            << "a bad file must not start anything";
        // --check says the same.
        const auto check = run("scenario --check bad.json");
        EXPECT_EQ(check.status, 2) << check.out;
        EXPECT_THAT(check.out, HasSubstr(quoted(file)));
    }
}

TEST_F(ScenarioCli, AMissingFileOrABadOptionIsNamed) {
    auto r = run("scenario nowhere.json");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.out, HasSubstr("nowhere.json"));

    write("s.json", one_scenario("a", "vm.json"));
    r = run("scenario s.json --filter '('");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.out, HasSubstr("--filter '('"));
    r = run("scenario s.json --filter zzz");
    EXPECT_EQ(r.status, 2);
    EXPECT_THAT(r.out, HasSubstr("matches none of the 1 scenarios"));
    r = run("scenario s.json -j 0");
    EXPECT_NE(r.status, 0);
    EXPECT_THAT(r.out, HasSubstr("--jobs"));
}

TEST_F(ScenarioCli, CheckAndListDoNotStartAnything) {
    write("s.json", R"({"scenarios": [
        {"name": "have", "vm": "vm.json", "steps": [{"type": "query", "command": "x"}]},
        {"name": "lack-${N}", "vm": {"base": "vm.json", "kernel": "img/missing"},
         "matrix": {"N": [1, 2]}, "steps": [{"type": "query", "command": "x"}]}]})");
    auto r = run("scenario --check s.json");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 file(s), 3 scenario(s): no errors"));

    r = run("scenario --list s.json --filter 'lack-2|have'");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("s.json: have (1 steps"));
    EXPECT_THAT(r.out, AllOf(HasSubstr("s.json: lack-2 N=2"), HasSubstr("will be skipped"),
                             HasSubstr("img/missing")));
    EXPECT_THAT(r.out, Not(HasSubstr("lack-1")));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "scenario-results"));
}

TEST_F(ScenarioCli, SkippedScenarioWritesBothReportsWithTheReason) {
    write("s.json", one_scenario("no-kernel", {{"base", "vm.json"}, {"kernel", "img/gone"}}));
    auto r = run("scenario s.json -o out --plain");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("1 skipped"));
    r = run("scenario s.json -o out2 --plain --exit-skipped 77");
    EXPECT_EQ(r.status, 77) << r.out;

    const auto rep = report();
    EXPECT_EQ(rep["format"], "mshare-vmm-scenario-report/1");
    EXPECT_EQ(rep["totals"]["scenarios"], 1);
    EXPECT_EQ(rep["totals"]["skipped"], 1);
    EXPECT_EQ(rep["totals"]["passed"], 0);
    ASSERT_EQ(rep["scenarios"].size(), 1U);
    EXPECT_EQ(rep["scenarios"][0]["status"], "skipped");
    EXPECT_THAT(rep["scenarios"][0]["skip_reason"].get<std::string>(), HasSubstr("img/gone"));
    EXPECT_TRUE(rep["host"].contains("cpus"));

    const auto xml = junit();
    EXPECT_EQ(xmlcheck::check(xml), "");
    EXPECT_THAT(xml, HasSubstr(R"(<testcase name="no-kernel")"));
    EXPECT_THAT(xml, AllOf(HasSubstr("<skipped message=\""), HasSubstr("img/gone")));
    EXPECT_THAT(xml, HasSubstr(R"(skipped="1")"));
}

TEST_F(ScenarioCli, AVmmThatEndsAtOnceIsAnErrorWithItsOutput) {
    const auto vmm = script("fake-vmm", "echo 'fake-vmm: cannot open /dev/nothing' >&2\nexit 3");
    write("s.json", one_scenario("dies", "vm.json"));
    const auto r = run("scenario s.json -o out --plain --vmm " + quoted(vmm));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_THAT(r.out, HasSubstr("ERROR  dies"));

    const auto rep = report();
    EXPECT_EQ(rep["totals"]["errors"], 1);
    const auto& s = rep["scenarios"][0];
    EXPECT_EQ(s["status"], "error");
    const auto failure = s["failures"][0].get<std::string>();
    EXPECT_THAT(failure, AllOf(HasSubstr("the VM did not start"), HasSubstr("status 3"),
                               HasSubstr("cannot open /dev/nothing")));
    // The VMM was asked to run the config the runner wrote for it.
    const auto vm = json::parse(test::read_file(dir_.path() / "out/s/dies/vm.json"));
    EXPECT_TRUE(vm["control_socket"].is_string());
    EXPECT_EQ(vm["console_log"], (dir_.path() / "out/s/dies/console.log").string());
    EXPECT_EQ(vm["kernel"], (dir_.path() / "img/bzImage").string());

    const auto xml = junit();
    EXPECT_EQ(xmlcheck::check(xml), "");
    EXPECT_THAT(xml, AllOf(HasSubstr("<error message=\""), HasSubstr(R"(errors="1")")));
}

TEST_F(ScenarioCli, AHungVmmIsKilledAtTheTimeLimit) {
    // Never opens its control socket. The runner must end it and report,
    // not wait for it.
    const auto vmm = script("hung-vmm", "echo 'hung-vmm: started'\nexec sleep 600");
    write("s.json", one_scenario("hangs", "vm.json", 2));
    const auto r = run("scenario s.json -o out --plain --vmm " + quoted(vmm));
    EXPECT_EQ(r.status, 1) << r.out;
    const auto rep = report();
    const auto& s = rep["scenarios"][0];
    EXPECT_EQ(s["status"], "error");
    EXPECT_THAT(s["failures"][0].get<std::string>(),
                AllOf(HasSubstr("did not answer on its control socket in time"),
                      HasSubstr("hung-vmm: started")));
    // The time limit factor applies to it too.
    write("s2.json", one_scenario("hangs2", "vm.json", 100));
    const auto r2 =
        run("scenario s2.json -o out2 --plain --time-limit-factor 0.02 --vmm " + quoted(vmm));
    EXPECT_EQ(r2.status, 1) << r2.out;
    EXPECT_EQ(report("out2")["scenarios"][0]["status"], "error");
}

TEST_F(ScenarioCli, ReportsGoWhereTheOptionsSay) {
    write("s.json", one_scenario("x", {{"base", "vm.json"}, {"kernel", "img/gone"}}));
    const auto r = run("scenario s.json -o out --junit j/ci.xml --json j/ci.json --plain");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(xmlcheck::check(test::read_file(dir_.path() / "j/ci.xml")), "");
    EXPECT_EQ(json::parse(test::read_file(dir_.path() / "j/ci.json"))["totals"]["skipped"], 1);
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "out/junit.xml"));
}

// A report as `mshare-vmm scenario` writes it, with the figures plot reads.
json bench_report() {
    json scenarios = json::array();
    for (const std::string mode : {"mshare", "shmem"}) {
        for (int n : {1, 10, 100}) {
            const double bytes = mode == "mshare" ? 8192.0 : 4096.0 * n;
            scenarios.push_back({{"file", "bench.json"},
                                 {"name", "pt-" + mode + "-N" + std::to_string(n)},
                                 {"status", "passed"},
                                 {"parameters", {{"mode", mode}, {"N", n}}},
                                 {"saved", {{"bench", {{"json", {{"pt_bytes", bytes}}}}}}}});
        }
    }
    scenarios.push_back({{"file", "bench.json"},
                         {"name", "pt-broken"},
                         {"status", "failed"},
                         {"parameters", {{"mode", "mshare"}, {"N", 1000}}},
                         {"saved", {{"bench", {{"json", {{"pt_bytes", 1}}}}}}}});
    return {{"format", "mshare-vmm-scenario-report/1"}, {"scenarios", scenarios}};
}

TEST_F(ScenarioCli, PlotDrawsAReportAndWritesItsTable) {
    write("r.json", bench_report().dump());
    const auto r =
        run("plot r.json -o chart.svg --table table.md --x /parameters/N "
            "--y /saved/bench/json/pt_bytes --series /parameters/mode --log-x --log-y "
            "--title 'Page <tables>'");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_THAT(r.out, HasSubstr("pt-broken"));  // left out, and said so
    const auto svg = test::read_file(dir_.path() / "chart.svg");
    EXPECT_EQ(xmlcheck::check(svg), "");
    EXPECT_THAT(svg, AllOf(HasSubstr("<svg"), HasSubstr("Page &lt;tables&gt;"), HasSubstr("mshare"),
                           HasSubstr("shmem")));
    const auto table = test::read_file(dir_.path() / "table.md");
    EXPECT_THAT(table, AllOf(HasSubstr("mshare"), HasSubstr("shmem"), HasSubstr("409600")));
    EXPECT_THAT(table, Not(HasSubstr("1000")));

    // Per-process figures, one mode, as a bar chart on stdout.
    const auto bar =
        run("plot r.json -o - --bar --x /parameters/N --y /saved/bench/json/pt_bytes "
            "--y-divide-by /parameters/N --where /parameters/mode=shmem");
    EXPECT_EQ(bar.status, 0) << bar.out;
    EXPECT_THAT(bar.out, HasSubstr("<svg"));
}

TEST_F(ScenarioCli, PlotRefusesBadInputWithAReason) {
    write("r.json", bench_report().dump());
    write("notjson.json", "{ nope");
    auto r = run("plot notjson.json -o c.svg --x /parameters/N --y /saved/x");
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.out, HasSubstr("notjson.json"));
    r = run("plot r.json -o c.svg --x /parameters/N --y /saved/nothing/here");
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.out, HasSubstr("no data point"));
    r = run("plot r.json --x /parameters/N --y /saved/bench/json/pt_bytes");
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.out, HasSubstr("nothing to write"));
    r = run("plot r.json -o c.svg --x parameters --y /saved/bench/json/pt_bytes");
    EXPECT_EQ(r.status, 1);
    EXPECT_THAT(r.out, HasSubstr("parameters"));
    EXPECT_FALSE(std::filesystem::exists(dir_.path() / "c.svg"));
}

}  // namespace
}  // namespace mvmm::scenario
