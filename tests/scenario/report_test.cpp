// The JUnit XML and JSON report writers.
#include <cstdlib>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/report.hpp>

#include "scenario/xml_check.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// Text a guest console can produce: markup, entities, CDATA ends, escape
// sequences, NUL and other control bytes, invalid and valid UTF-8.
const std::string kNasty =
    std::string("<b>&amp; \"q\" 'a' ]]> \x1b[31mred\x1b[0m ") + std::string("\0\x01\x7f", 3) +
    "\xff\xfe\xc3\x28 caf\xc3\xa9 \xe2\x82\xac" + " \xed\xa0\x80 \xef\xbf\xbe";

std::vector<ScenarioResult> sample_results() {
    std::vector<ScenarioResult> out(4);
    auto& pass = out[0];
    pass.file = "/x/configs/scenarios/sharing.json";
    pass.name = "share-N8";
    pass.parameters = {{"N", 8}};
    pass.status = Status::passed;
    pass.seconds = 12.5;
    pass.saved = {{"acct", {{"totals", {{"page_table_bytes", 8192}}}}}};
    pass.steps.push_back(StepResult{0,
                                    "exec ptbench",
                                    StepType::exec,
                                    StepStatus::passed,
                                    0.5,
                                    10.25,
                                    json{{"exit_code", 0}},
                                    {"ok: /x == 1"},
                                    ""});

    auto& fail = out[1];
    fail.file = "/x/configs/scenarios/sharing.json";
    fail.name = "share-N64";
    fail.status = Status::failed;
    fail.seconds = 30;
    fail.timed_out = true;
    fail.failures = {"console line 3: " + kNasty, "second reason"};
    fail.console_tail = {"line one", kNasty};
    fail.console_log = "/x/results/console.log";
    fail.steps.push_back(StepResult{0,
                                    "acct <" + kNasty + ">",
                                    StepType::query,
                                    StepStatus::failed,
                                    1,
                                    2,
                                    json(),
                                    {"FAILED: " + kNasty},
                                    kNasty});

    auto& skip = out[2];
    skip.file = "/x/configs/scenarios/conformance.json";
    skip.name = "debug";
    skip.status = Status::skipped;
    skip.skip_reason = "prerequisite missing: kernel '/x/out/kernel-debug/bzImage' does not exist";

    auto& err = out[3];
    err.file = "/x/configs/scenarios/conformance.json";
    err.name = "normal";
    err.status = Status::error;
    err.failures = {"the VM did not start: qemu: " + kNasty};
    return out;
}

RunInfo sample_info() {
    RunInfo info;
    info.started_at = "2026-11-25T10:00:00Z";
    info.seconds = 42;
    info.command_line = "mshare-vmm scenario configs/scenarios/*.json";
    info.host = {{"hostname", "ci<1>"}, {"cpus", 2}};
    return info;
}

TEST(XmlEscapeTest, EscapesMarkupAndDropsWhatXmlCannotCarry) {
    EXPECT_EQ(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
    EXPECT_EQ(xml_escape("tab\tnl\ncr\r"), "tab&#9;nl&#10;cr&#13;");
    EXPECT_EQ(xml_escape(std::string("\x1b[0m\0", 5)), "\\x1b[0m\\x00");
    EXPECT_EQ(xml_escape("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
              "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    EXPECT_EQ(xml_escape("\xff"), "\\xff");
    EXPECT_EQ(xml_escape("\xc3\x28"), "\\xc3(");               // broken sequence
    EXPECT_EQ(xml_escape("\xc0\xaf"), "\\xc0\\xaf");           // overlong '/'
    EXPECT_EQ(xml_escape("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // UTF-16 surrogate
    EXPECT_EQ(xml_escape("\xef\xbf\xbe"), "\\xef\\xbf\\xbe");  // U+FFFE
    EXPECT_EQ(xml_escape("\xe2\x82"), "\\xe2\\x82");           // truncated at the end
}

TEST(XmlCheckTest, TheCheckerCatchesMalformedXml) {
    EXPECT_EQ(xmlcheck::check("<?xml version=\"1.0\"?>\n<a x=\"1\"><b/>t&amp;&#10;</a>\n"), "");
    EXPECT_NE(xmlcheck::check("<a>&</a>"), "");
    EXPECT_NE(xmlcheck::check("<a>&nbsp;</a>"), "");
    EXPECT_NE(xmlcheck::check("<a><b></a></b>"), "");
    EXPECT_NE(xmlcheck::check("<a x=1/>"), "");
    EXPECT_NE(xmlcheck::check("<a x=\"<\"/>"), "");
    EXPECT_NE(xmlcheck::check("<a x=\"1\" x=\"2\"/>"), "");
    EXPECT_NE(xmlcheck::check("<a>\x01</a>"), "");
    EXPECT_NE(xmlcheck::check("<a>&#1;</a>"), "");
    EXPECT_NE(xmlcheck::check("<a>\xff</a>"), "");
    EXPECT_NE(xmlcheck::check("<a>]]></a>"), "");
    EXPECT_NE(xmlcheck::check("<a/><b/>"), "");
    EXPECT_NE(xmlcheck::check("<a>"), "");
}

TEST(JunitReportTest, IsWellFormedWithHostileContent) {
    const auto xml = junit_report(sample_results(), sample_info());
    EXPECT_EQ(xmlcheck::check(xml), "") << xml;
}

TEST(JunitReportTest, PassesXmllintWhereInstalled) {
    if (std::system("command -v xmllint >/dev/null 2>&1") != 0) {
        GTEST_SKIP() << "xmllint is not installed (package libxml2-utils)";
    }
    const test::TempDir dir;
    const auto file = dir.write("junit.xml", junit_report(sample_results(), sample_info()));
    const auto cmd =
        cat("xmllint --noout '", file.string(), "' 2>'", (dir.path() / "err").string(), "'");
    EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST(JunitReportTest, OneSuitePerFileOneCasePerScenario) {
    const auto xml = junit_report(sample_results(), sample_info());
    EXPECT_THAT(xml, HasSubstr("<testsuites name=\"mshare-vmm scenarios\" tests=\"4\" "
                               "failures=\"1\" errors=\"1\" skipped=\"1\""));
    EXPECT_THAT(xml, HasSubstr("<testsuite name=\"sharing\" id=\"0\" tests=\"2\" failures=\"1\" "
                               "errors=\"0\" skipped=\"0\" time=\"42.500\""));
    EXPECT_THAT(xml, HasSubstr("<testsuite name=\"conformance\" id=\"1\" tests=\"2\" "
                               "failures=\"0\" errors=\"1\" skipped=\"1\""));
    EXPECT_THAT(xml, HasSubstr("<testcase name=\"share-N8\" classname=\"scenarios.sharing\" "
                               "time=\"12.500\""));
    EXPECT_THAT(xml, HasSubstr("<failure message=\"console line 3: &lt;b&gt;&amp;amp; "));
    EXPECT_THAT(xml, HasSubstr("type=\"timeout\""));
    EXPECT_THAT(xml, HasSubstr("last 2 console lines (/x/results/console.log):&#10;line one"));
    EXPECT_THAT(xml, HasSubstr("<skipped message=\"prerequisite missing: kernel "
                               "&apos;/x/out/kernel-debug/bzImage&apos; does not exist\"/>"));
    EXPECT_THAT(xml, HasSubstr("<error message=\"the VM did not start: qemu: "));
    EXPECT_THAT(xml, HasSubstr("<property name=\"host.hostname\" value=\"ci&lt;1&gt;\"/>"));
    EXPECT_THAT(xml, HasSubstr("step 0 &apos;exec ptbench&apos; (exec): passed in 10.250 s"));
    EXPECT_THAT(xml, Not(HasSubstr("\x1b")));
}

TEST(JsonReportTest, CarriesEveryFigureAndSurvivesInvalidUtf8) {
    const auto report = json_report(sample_results(), sample_info());
    EXPECT_EQ(report["format"], "mshare-vmm-scenario-report/1");
    EXPECT_EQ(
        report["totals"],
        json({{"scenarios", 4}, {"passed", 1}, {"failed", 1}, {"errors", 1}, {"skipped", 1}}));
    const auto& s0 = report["scenarios"][0];
    EXPECT_EQ(s0["name"], "share-N8");
    EXPECT_EQ(s0["parameters"]["N"], 8);
    EXPECT_EQ(s0["saved"]["acct"]["totals"]["page_table_bytes"], 8192);
    EXPECT_EQ(s0["steps"][0]["seconds"], 10.25);
    EXPECT_EQ(s0["steps"][0]["result"]["exit_code"], 0);
    EXPECT_EQ(report["scenarios"][1]["timed_out"], true);
    EXPECT_EQ(report["scenarios"][2]["skip_reason"],
              "prerequisite missing: kernel '/x/out/kernel-debug/bzImage' does not exist");
    EXPECT_EQ(report["host"]["hostname"], "ci<1>");
    const auto text = json_text(report);
    const auto back = json::parse(text);
    EXPECT_EQ(back["scenarios"][0]["saved"], s0["saved"]);
}

TEST(DescribeHostTest, NamesTheMachine) {
    const auto host = describe_host();
    EXPECT_TRUE(host.contains("hostname"));
    EXPECT_GE(host["cpus"].get<int>(), 1);
    EXPECT_THAT(host["kernel"].get<std::string>(), HasSubstr("Linux"));
}

TEST(WriteFileTest, ReplacesAtomicallyAndNamesFailures) {
    const test::TempDir dir;
    const auto file = dir.path() / "out/deep/report.json";
    write_file_atomically(file, "one");
    write_file_atomically(file, "two");
    std::ifstream in(file);
    std::string content;
    std::getline(in, content);
    EXPECT_EQ(content, "two");
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(file.parent_path()),
                            std::filesystem::directory_iterator()),
              1);
    dir.write("plain", "x");
    try {
        write_file_atomically(dir.path() / "plain/report.json", "x");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("plain"));
    }
}

}  // namespace
}  // namespace mvmm::scenario
