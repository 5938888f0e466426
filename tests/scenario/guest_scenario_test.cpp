// The shipped smoke scenario (configs/scenarios/smoke.json) run end to end
// by `mshare-vmm scenario`, on the engine `auto` picks (QEMU's TCG on hosts
// without VT-x/AMD-V), with this build's initramfs: one boot. Checks the
// machine-readable results a CI system reads, the JSON report and the JUnit
// XML, against what the run did.
//
// The scenario skips its later parts when the VMM does not serve the guest
// agent's commands or the guest kernel has no msharefs; this test then
// checks what did run and reports itself skipped with the scenario's reason.
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "qemu/guest_artifacts.hpp"
#include "scenario/xml_check.hpp"
#include "support/files.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::Not;

using Result = test::CommandResult;

Result run(const std::string& cmd) {
    return test::run_shell(cmd + " </dev/null 2>&1");
}

// The step of `scenario` called `name`.
const json& step(const json& scenario, const std::string& name) {
    for (const auto& s : scenario["steps"]) {
        if (s["name"] == name) {
            return s;
        }
    }
    static const json kNone = json::object();
    ADD_FAILURE() << "no step " << name << " in the report";
    return kNone;
}

TEST(GuestScenario, SmokeRunsEndToEndAndReportsInJsonAndJunit) {
    std::string why;
    const auto artifacts = test::find_guest_artifacts(why, /*need_initramfs=*/false);
    if (!artifacts) {
        GTEST_SKIP() << why;
    }
    // This build's initramfs (its agent and workloads), unless one is named.
    std::filesystem::path initramfs =
        std::filesystem::path(MVMM_BINARY_DIR) / "guest/initramfs/initramfs.cpio";
    if (const char* named = std::getenv("MVMM_TEST_INITRAMFS"); named != nullptr && *named != 0) {
        initramfs = named;
    }
    if (!std::filesystem::is_regular_file(initramfs)) {
        GTEST_SKIP() << "no initramfs at " << initramfs << " (build the initramfs target)";
    }

    // The shipped scenario, with this build's guest images.
    const auto shipped = std::filesystem::path(MVMM_SOURCE_DIR) / "configs/scenarios/smoke.json";
    auto doc = json::parse(test::read_file(shipped));
    json vm = {{"kernel", artifacts->kernel.string()},
               {"initramfs", initramfs.string()},
               {"memory_mib", 512},
               {"vcpus", 1},
               {"engine", "auto"}};
    if (const auto profile = artifacts->kernel.parent_path() / "profile.json";
        std::filesystem::is_regular_file(profile)) {
        vm["profile"] = profile.string();
    }
    ASSERT_EQ(doc["scenarios"].size(), 1U);
    doc["scenarios"][0]["vm"] = vm;
    test::TempDir dir;
    const auto file = dir.write("smoke.json", doc.dump(2));
    const auto out = dir.path() / "results";

    const auto r = run(std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm scenario '" +
                       file.string() + "' -o '" + out.string() + "' --plain");
    const auto report_text = test::read_file(out / "report.json");
    ASSERT_FALSE(report_text.empty()) << "no report.json; the command said:\n" << r.out;
    const auto report = json::parse(report_text);
    ASSERT_EQ(report["scenarios"].size(), 1U);
    const auto& s = report["scenarios"][0];
    const std::string status = s["status"];
    ASSERT_THAT(status, AnyOf("passed", "skipped"))
        << "failures: " << s["failures"].dump(2)
        << "\nconsole tail: " << s["console"]["tail"].dump(2) << "\nthe command said:\n"
        << r.out;
    EXPECT_EQ(r.status, 0) << r.out;

    // The JSON report: the run, the host and the figures.
    EXPECT_EQ(report["format"], "mshare-vmm-scenario-report/1");
    EXPECT_EQ(report["totals"]["scenarios"], 1);
    EXPECT_EQ(report["totals"][status], 1);
    EXPECT_EQ(report["host"]["cpus"].is_number(), true);
    EXPECT_EQ(s["name"], "smoke");
    EXPECT_FALSE(s["timed_out"].get<bool>());
    EXPECT_TRUE(s["failures"].empty());

    const auto& boot = step(s, "boot complete");
    EXPECT_EQ(boot["status"], "passed");
    EXPECT_GT(boot["result"]["data"]["seconds"].get<double>(), 0.0);
    EXPECT_EQ(s["saved"]["boot"], boot["result"]);
    const std::string engine = s["saved"]["engine"]["engine"];
    EXPECT_THAT(engine, AnyOf("kvm", "qemu"));
    EXPECT_EQ(s["vm_status"]["mshare-engine"], engine);
    EXPECT_EQ(step(s, "paused")["status"], "passed");
    EXPECT_EQ(step(s, "resume")["status"], "passed");

    // The console log the report names is the guest's, and clean.
    const std::string console_log = s["console"]["log"];
    EXPECT_THAT(test::read_file(console_log), HasSubstr("Run /init as init process"));
    EXPECT_TRUE(s["console"]["findings"].empty()) << s["console"]["findings"].dump(2);

    // The JUnit report says the same.
    const auto xml = test::read_file(out / "junit.xml");
    EXPECT_EQ(xmlcheck::check(xml), "");
    EXPECT_THAT(xml, HasSubstr(R"(<testsuite name="smoke" id="0" tests="1")"));
    EXPECT_THAT(xml, HasSubstr(R"(<testcase name="smoke")"));
    EXPECT_THAT(xml, HasSubstr("step 0 &apos;boot complete&apos; (wait_event): passed"));
    EXPECT_THAT(xml, Not(HasSubstr("<failure")));
    EXPECT_THAT(xml, Not(HasSubstr("<error")));

    // Every step that ran passed; a skip leaves the rest not run.
    std::size_t ran = 0;
    for (const auto& st : s["steps"]) {
        if (st["status"] != "not-run") {
            ++ran;
            EXPECT_EQ(st["status"], "passed") << st.dump(2);
        }
    }
    if (s["saved"].contains("shmem")) {
        EXPECT_EQ(s["saved"]["shmem"]["json"]["outcome"], "ok");
        EXPECT_EQ(s["saved"]["shmem"]["json"]["config"]["processes"], 2);
    }

    if (status == "skipped") {
        const std::string reason = s["skip_reason"];
        EXPECT_FALSE(reason.empty());
        EXPECT_THAT(xml, HasSubstr("<skipped message=\""));
        EXPECT_THAT(r.out, HasSubstr("skipped smoke: " + reason));
        GTEST_SKIP() << "the smoke scenario booted on the " << engine << " engine, ran " << ran
                     << " of " << s["steps"].size()
                     << " steps (all passed), then skipped: " << reason;
    }
    EXPECT_THAT(xml, Not(HasSubstr("<skipped")));
    EXPECT_EQ(s["saved"]["regions"]["shared-puds"].size(), 1U);
    EXPECT_EQ(s["saved"]["regions_after"]["shared-puds"].size(), 0U);
}

}  // namespace
}  // namespace mvmm::scenario
