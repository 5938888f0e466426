// Evaluation of assertions, console scanning, and guest-exec replies.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/scenario/assertion.hpp>
#include <mvmm/scenario/runner.hpp>

#include "../../vmm/scenario/guest_exec.hpp"
#include "scenario/fake_vm.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

Assertion make(std::string pointer, Op op, json value) {
    Assertion a;
    a.pointer = std::move(pointer);
    a.op = op;
    a.value = std::move(value);
    return a;
}

const json kResult = json::parse(R"({
  "totals": {"page_table_bytes": 12288, "savings_ratio": 7.5, "name": "x"},
  "shared_puds": [
    {"pa": 4096, "sharers": [1, 2, 3], "share_count": 3, "consistent": true},
    {"pa": 8192, "sharers": [4], "share_count": 2, "consistent": false}
  ],
  "neg": -3
})");

bool passes(const Assertion& a, const json& saved = json::object()) {
    return evaluate(a, kResult, saved).passed;
}

TEST(AssertionTest, Comparisons) {
    EXPECT_TRUE(passes(make("/totals/page_table_bytes", Op::eq, 12288)));
    EXPECT_TRUE(passes(make("/totals/page_table_bytes", Op::eq, 12288.0)));
    EXPECT_FALSE(passes(make("/totals/page_table_bytes", Op::eq, 12289)));
    EXPECT_TRUE(passes(make("/totals/page_table_bytes", Op::ne, 1)));
    EXPECT_TRUE(passes(make("/totals/page_table_bytes", Op::le, 12288)));
    EXPECT_FALSE(passes(make("/totals/page_table_bytes", Op::lt, 12288)));
    EXPECT_TRUE(passes(make("/totals/savings_ratio", Op::ge, 7.5)));
    EXPECT_FALSE(passes(make("/totals/savings_ratio", Op::gt, 7.5)));
    EXPECT_TRUE(passes(make("/totals/name", Op::eq, "x")));
    EXPECT_FALSE(passes(make("/totals/name", Op::eq, 1)));
    EXPECT_TRUE(passes(make("/neg", Op::eq, -3)));
    EXPECT_FALSE(passes(make("/neg", Op::eq, 3)));
    EXPECT_TRUE(passes(make("/neg", Op::lt, 0)));
    EXPECT_TRUE(passes(make("/shared_puds/0/sharers", Op::eq, json::array({1, 2, 3}))));
}

TEST(AssertionTest, ApproxUsesAbsoluteOrRelativeTolerance) {
    auto a = make("/totals/page_table_bytes", Op::approx, 12000);
    a.tolerance = 300;
    EXPECT_TRUE(passes(a));
    a.tolerance = 200;
    EXPECT_FALSE(passes(a));
    a.tolerance.reset();
    a.relative_tolerance = 0.05;  // 600
    EXPECT_TRUE(passes(a));
    a.relative_tolerance = 0.01;  // 120
    EXPECT_FALSE(passes(a));
}

TEST(AssertionTest, CountWithAndWithoutWhere) {
    auto a = make("/shared_puds", Op::eq, 2);
    a.count = true;
    EXPECT_TRUE(passes(a));
    a.where.push_back(make("/consistent", Op::eq, true));
    a.value = 1;
    EXPECT_TRUE(passes(a));
    a.value = 2;
    const auto o = evaluate(a, kResult, json::object());
    EXPECT_FALSE(o.passed);
    EXPECT_EQ(o.actual, 1);
    EXPECT_THAT(o.message, HasSubstr("/shared_puds count where /consistent == true == 2"));
    EXPECT_THAT(o.message, HasSubstr("actual 1"));
    // Objects count their members.
    auto b = make("/totals", Op::eq, 3);
    b.count = true;
    EXPECT_TRUE(passes(b));
    // Scalars cannot be counted.
    auto c = make("/neg", Op::eq, 1);
    c.count = true;
    EXPECT_THAT(evaluate(c, kResult, json::object()).message, HasSubstr("cannot count a number"));
}

TEST(AssertionTest, RefAndScaleResolveInTheSavedResults) {
    const json saved = {{"baseline", {{"PageTables", 8192}}}};
    Assertion a;
    a.pointer = "/totals/page_table_bytes";
    a.op = Op::approx;
    a.ref = "/baseline/PageTables";
    a.scale = 1.5;
    a.tolerance = 0;
    const auto o = evaluate(a, kResult, saved);
    EXPECT_TRUE(o.passed) << o.message;
    EXPECT_EQ(o.expected.get<double>(), 12288.0);
    a.ref = "/baseline/Nope";
    const auto missing = evaluate(a, kResult, saved);
    EXPECT_FALSE(missing.passed);
    EXPECT_THAT(missing.message, HasSubstr("ref /baseline/Nope is not among the saved results"));
}

TEST(AssertionTest, ExistsAbsentAndMissingMembers) {
    Assertion e;
    e.pointer = "/totals/name";
    e.op = Op::exists;
    EXPECT_TRUE(passes(e));
    e.pointer = "/totals/nope";
    EXPECT_FALSE(passes(e));
    e.op = Op::absent;
    EXPECT_TRUE(passes(e));
    e.pointer = "/totals";
    EXPECT_FALSE(passes(e));
    const auto o = evaluate(make("/totals/nope", Op::eq, 1), kResult, json::object());
    EXPECT_FALSE(o.passed);
    EXPECT_THAT(o.message, HasSubstr("no such member in the result"));
    // Indexing into a non-container is not a crash.
    EXPECT_FALSE(passes(make("/neg/0", Op::eq, 1)));
    EXPECT_FALSE(passes(make("/shared_puds/9", Op::eq, 1)));
    EXPECT_FALSE(passes(make("/shared_puds/x", Op::eq, 1)));
}

TEST(AssertionTest, TypeMismatchesFailWithAReason) {
    const auto o = evaluate(make("/totals/name", Op::lt, 3), kResult, json::object());
    EXPECT_FALSE(o.passed);
    EXPECT_THAT(o.message, HasSubstr("actual value is a string (\"x\"), not a number"));
}

TEST(AssertionTest, NamedAssertionsSayTheirName) {
    auto a = make("/totals/page_table_bytes", Op::le, 4096);
    a.name = "page tables stay small";
    const auto o = evaluate(a, kResult, json::object());
    EXPECT_THAT(o.message, HasSubstr("page tables stay small (/totals/page_table_bytes <= 4096)"));
    EXPECT_THAT(o.message, HasSubstr("actual 12288"));
}

TEST(ConsoleScanTest, FindsForbiddenLinesAndHonoursAllow) {
    const std::string console =
        "Linux version 6.12\n"
        "mshare: region created\n"
        "WARNING: CPU: 0 PID: 1 at mm/mshare.c:10 known_thing\n"
        "BUG: unable to handle page fault for address: 0\n"
        "INFO: task ptbench:123 blocked for more than 120 seconds.\r\n"
        "ptbench invoked oom-killer: gfp_mask=0x140cca\n"
        "tail without newline";
    ConsolePolicy policy;
    policy.allow = {"known_thing"};
    policy.require = {"^Linux version", "never there"};
    const auto scan = scan_console(console, policy, ExpectedOutcome{});
    ASSERT_EQ(scan.forbidden.size(), 2U);
    EXPECT_EQ(scan.forbidden[0].line, 4U);
    EXPECT_EQ(scan.forbidden[0].pattern, "BUG:");
    EXPECT_EQ(scan.forbidden[1].line, 5U);
    EXPECT_EQ(scan.forbidden[1].text, "INFO: task ptbench:123 blocked for more than 120 seconds.");
    EXPECT_EQ(scan.missing_required, std::vector<std::string>{"never there"});
    ASSERT_TRUE(scan.out_of_memory.has_value());
    EXPECT_EQ(scan.out_of_memory->line, 6U);
    EXPECT_EQ(scan.lines, 7U);

    ConsolePolicy off;
    off.defaults = false;
    off.forbid = {"mshare: .*created"};
    const auto scan2 = scan_console(console, off, ExpectedOutcome{});
    ASSERT_EQ(scan2.forbidden.size(), 1U);
    EXPECT_EQ(scan2.forbidden[0].line, 2U);
}

TEST(ConsoleScanTest, TailLines) {
    EXPECT_EQ(tail_lines("a\nb\nc\n", 2), (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(tail_lines("a\nb\nc", 5), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_EQ(tail_lines("a\r\nb\r\n", 1), (std::vector<std::string>{"b"}));
    EXPECT_TRUE(tail_lines("", 3).empty());
    EXPECT_TRUE(tail_lines("abc", 0).empty());
}

TEST(GuestExecTest, ParsesStatusReplies) {
    const auto s = detail::parse_exec_status(
        json{{"exited", true}, {"exit-code", 3}, {"stdout", "out\n"}, {"stderr", ""}});
    EXPECT_TRUE(s.exited);
    EXPECT_EQ(s.exit_code, 3);
    EXPECT_FALSE(s.signal.has_value());
    EXPECT_EQ(s.stdout_text, "out\n");
    const auto t = detail::parse_exec_status(json{{"exited", true}, {"signal", 9}});
    EXPECT_EQ(t.signal, 9);
    EXPECT_EQ(t.stdout_text, "");
    EXPECT_FALSE(detail::parse_exec_status(json{{"exited", false}}).exited);
    EXPECT_THROW((void)detail::parse_exec_status(json::object()), Error);
    EXPECT_THROW((void)detail::parse_exec_status(json{{"exited", true}, {"exit-code", "x"}}),
                 Error);
    EXPECT_THROW((void)detail::parse_exec_status(json{{"exited", true}, {"stdout", 1}}), Error);
    EXPECT_THROW((void)detail::guest_exec_id(json{{"exec-id", "x"}}), Error);
    EXPECT_THROW((void)detail::guest_exec_id(json{{"pid", 42}}), Error);
    EXPECT_EQ(detail::guest_exec_id(json{{"exec-id", 42}}), 42U);
}

}  // namespace
}  // namespace mvmm::scenario
