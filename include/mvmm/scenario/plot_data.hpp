// Picking chart data out of scenario JSON reports (report.hpp): every
// scenario (or every element of an array inside it) gives one point; JSON
// pointers say where x, y and the series name are.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <mvmm/scenario/svg_chart.hpp>

namespace mvmm::scenario {

struct PlotQuery {
    // Pointers into each scenario object of a report ("/parameters/N",
    // "/saved/bench/json/page_tables"). With `each`, the element is there as
    // "/item/...".
    std::string x;
    std::string y;
    std::string series;  // "" for one series named `y`
    std::optional<std::string> each;
    std::optional<std::string> y_divide_by;  // a pointer; y / that value
    double y_scale = 1;
    // Only scenarios for which each pointer equals the value.
    std::vector<std::pair<std::string, nlohmann::json>> where;
    bool include_failed = false;  // by default only passed scenarios count
};

struct PlotData {
    bool categorical = false;  // some x is not a number: a bar chart
    std::vector<std::string> series;
    std::vector<std::string> categories;  // x values in first-seen order (bar charts)
    // [series][point]: x (a category index for bar charts) and y.
    std::vector<std::vector<chart::Point>> points;
    std::vector<std::string> skipped;  // "file: scenario: why" for points left out
};

// Throws Error for malformed pointers or a report that is not one.
PlotData collect_plot_data(const std::vector<nlohmann::json>& reports, const PlotQuery& query);

// A Markdown table of the data: one row per x, one column per series.
std::string markdown_table(const PlotData& data, const std::string& x_label,
                           const std::string& y_label);

}  // namespace mvmm::scenario
