// SVG charts and the data picked out of reports for them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/scenario/plot_data.hpp>
#include <mvmm/scenario/svg_chart.hpp>

#include "scenario/xml_check.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count(const std::string& text, const std::string& what) {
    std::size_t n = 0;
    for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) {
        ++n;
    }
    return n;
}

TEST(ChartTicksTest, LinearTicksAreNiceAndCoverTheRange) {
    EXPECT_THAT(chart::linear_ticks(0, 1500), ElementsAre(0, 500, 1000, 1500));
    EXPECT_THAT(chart::linear_ticks(0, 1),
                ::testing::Pointwise(::testing::DoubleNear(1e-12),
                                     std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
    const auto t = chart::linear_ticks(-3, 7);
    EXPECT_LE(t.front(), -3);
    EXPECT_GE(t.back(), 7);
    EXPECT_THAT(chart::linear_ticks(13, 87), ElementsAre(0, 20, 40, 60, 80, 100));
}

TEST(ChartTicksTest, LogTicksArePowersOfTenWithHalvesForShortRanges) {
    EXPECT_THAT(chart::log_ticks(1, 1500), ElementsAre(1, 10, 100, 1000, 10000));
    EXPECT_THAT(chart::log_ticks(3, 80), ElementsAre(1, 2, 5, 10, 20, 50, 100));
}

TEST(ChartTicksTest, Labels) {
    EXPECT_EQ(chart::tick_label(0), "0");
    EXPECT_EQ(chart::tick_label(0.25), "0.25");
    EXPECT_EQ(chart::tick_label(1500), "1500");
    EXPECT_EQ(chart::tick_label(12000), "12k");
    EXPECT_EQ(chart::tick_label(1.5e6), "1.5M");
    EXPECT_EQ(chart::tick_label(2e9), "2G");
    EXPECT_EQ(chart::tick_label(-5e6), "-5M");
}

chart::LineChart sample_line() {
    chart::LineChart c;
    c.title = "Page tables <vs> N & \"modes\"";
    c.x.label = "processes";
    c.y.label = "bytes";
    c.series = {{"mshare", {{1, 4096}, {8, 8192}, {64, 8192}}},
                {"shmem", {{64, 4e6}, {1, 8192}, {8, 5e5}}}};
    return c;
}

TEST(LineChartTest, IsWellFormedSvgWithOneLinePerSeries) {
    const auto svg = chart::render(sample_line());
    EXPECT_EQ(xmlcheck::check(svg), "") << svg;
    EXPECT_THAT(svg, HasSubstr("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    EXPECT_EQ(count(svg, "<path "), 2U);
    EXPECT_EQ(count(svg, "<circle "), 6U + 2U);  // points and legend markers
    EXPECT_THAT(svg, HasSubstr("Page tables &lt;vs&gt; N &amp; &quot;modes&quot;"));
    EXPECT_THAT(svg, HasSubstr(">mshare</text>"));
    EXPECT_THAT(svg, HasSubstr(">shmem</text>"));
    EXPECT_THAT(svg, HasSubstr(">4M</text>"));  // y tick
}

TEST(LineChartTest, LogAxesDropValuesTheyCannotShow) {
    auto c = sample_line();
    c.x.log = true;
    c.y.log = true;
    c.series[0].points.push_back({0, 100});  // x = 0 cannot be on a log axis
    c.series[1].points.push_back({10, -1});  // nor y < 0
    const auto svg = chart::render(c);
    EXPECT_EQ(xmlcheck::check(svg), "");
    EXPECT_EQ(count(svg, "<circle "), 6U + 2U);
    EXPECT_THAT(svg, HasSubstr("processes (log)"));
    EXPECT_THAT(svg, Not(HasSubstr("nan")));
    EXPECT_THAT(svg, Not(HasSubstr("inf")));
}

TEST(LineChartTest, NothingToDrawIsAnError) {
    chart::LineChart c;
    c.title = "empty";
    EXPECT_THROW((void)chart::render(c), Error);
    c.series = {{"s", {{1, -5}}}};
    c.y.log = true;
    EXPECT_THROW((void)chart::render(c), Error);
    // One point (zero width ranges) still draws.
    c.y.log = false;
    EXPECT_EQ(xmlcheck::check(chart::render(c)), "");
}

TEST(BarChartTest, GroupsBarsByCategory) {
    chart::BarChart c;
    c.title = "minor faults per process";
    c.x_label = "mode";
    c.y.label = "faults";
    c.categories = {"mshare", "shmem", "hugetlb"};
    c.series = {"N=8", "N=64"};
    c.values = {{3, 65536, 64}, {1, 65536, std::nullopt}};
    const auto svg = chart::render(c);
    EXPECT_EQ(xmlcheck::check(svg), "") << svg;
    EXPECT_EQ(count(svg, "<rect "), 1U + 5U + 2U);  // background, bars, legend
    EXPECT_THAT(svg, HasSubstr(">hugetlb</text>"));
    EXPECT_THAT(svg, HasSubstr(">65.5k</text>"));
}

json sample_report() {
    return json::parse(R"({
      "format": "mshare-vmm-scenario-report/1",
      "scenarios": [
        {"file": "/r/bench.json", "name": "a", "status": "passed",
         "parameters": {"mode": "mshare", "N": 8},
         "saved": {"b": {"json": {"pt": 8192, "minflt": 80,
                                  "runs": [{"n": 1, "t": 1.5}, {"n": 2, "t": 2.5}]}}}},
        {"file": "/r/bench.json", "name": "b", "status": "passed",
         "parameters": {"mode": "mshare", "N": 1},
         "saved": {"b": {"json": {"pt": 4096, "minflt": 10}}}},
        {"file": "/r/bench.json", "name": "c", "status": "passed",
         "parameters": {"mode": "shmem", "N": 8},
         "saved": {"b": {"json": {"pt": 65536, "minflt": 8000}}}},
        {"file": "/r/bench.json", "name": "d", "status": "failed",
         "parameters": {"mode": "shmem", "N": 1500},
         "saved": {"b": {"json": {"pt": 99}}}},
        {"file": "/r/bench.json", "name": "e", "status": "passed",
         "parameters": {"mode": "hugetlb", "N": 8}, "saved": {}}
      ]})");
}

TEST(PlotDataTest, OnePointPerPassedScenarioSeriesByParameter) {
    PlotQuery q;
    q.x = "/parameters/N";
    q.y = "/saved/b/json/pt";
    q.series = "/parameters/mode";
    const auto d = collect_plot_data({sample_report()}, q);
    EXPECT_FALSE(d.categorical);
    EXPECT_THAT(d.series, ElementsAre("mshare", "shmem"));
    ASSERT_EQ(d.points.size(), 2U);
    ASSERT_EQ(d.points[0].size(), 2U);
    EXPECT_EQ(d.points[0][0].x, 1);  // sorted by x
    EXPECT_EQ(d.points[0][0].y, 4096);
    EXPECT_EQ(d.points[1][0].y, 65536);
    EXPECT_THAT(d.skipped, ElementsAre("bench.json: d: failed",
                                       "bench.json: e: no number at /saved/b/json/pt"));
    const auto table = markdown_table(d, "N", "bytes");
    EXPECT_EQ(table,
              "| N | mshare | shmem |\n| --- | ---: | ---: |\n| 1 | 4096 | - |\n"
              "| 8 | 8192 | 65536 |\n");
}

TEST(PlotDataTest, FiltersDivisionCategoriesAndEach) {
    PlotQuery q;
    q.x = "/parameters/mode";
    q.y = "/saved/b/json/minflt";
    q.y_divide_by = "/parameters/N";
    q.where = {{"/parameters/N", 8}};
    const auto d = collect_plot_data({sample_report()}, q);
    EXPECT_TRUE(d.categorical);
    EXPECT_THAT(d.categories, ElementsAre("mshare", "shmem"));
    ASSERT_EQ(d.points.size(), 1U);
    EXPECT_EQ(d.points[0][0].y, 10);
    EXPECT_EQ(d.points[0][1].y, 1000);

    PlotQuery e;
    e.each = "/saved/b/json/runs";
    e.x = "/item/n";
    e.y = "/item/t";
    e.series = "/name";
    e.include_failed = true;
    const auto de = collect_plot_data({sample_report()}, e);
    ASSERT_EQ(de.points.size(), 1U);
    EXPECT_THAT(de.series, ElementsAre("a"));
    EXPECT_EQ(de.points[0].size(), 2U);
    EXPECT_EQ(de.points[0][1].y, 2.5);
}

TEST(PlotDataTest, BadInputIsAnError) {
    PlotQuery q;
    q.x = "parameters";
    q.y = "/y";
    EXPECT_THROW((void)collect_plot_data({sample_report()}, q), Error);
    q.x = "/x";
    EXPECT_THROW((void)collect_plot_data({json::array()}, q), Error);
    EXPECT_THROW((void)collect_plot_data({json{{"scenarios", 3}}}, q), Error);
}

}  // namespace
}  // namespace mvmm::scenario
