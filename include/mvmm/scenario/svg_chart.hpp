// A small SVG writer for the charts in docs/results.md: line charts (numeric
// x, one line per series) and grouped bar charts (categories on x, one bar
// per series), with axes, ticks, grid, optional log scales and a legend.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace mvmm::scenario::chart {

struct Point {
    double x = 0;
    double y = 0;
};

struct Series {
    std::string name;
    std::vector<Point> points;  // line charts: drawn in x order
};

struct Axis {
    std::string label;
    bool log = false;  // values <= 0 are left out on a log axis
    std::optional<double> min;
    std::optional<double> max;
};

struct LineChart {
    std::string title;
    Axis x;
    Axis y;
    std::vector<Series> series;
    int width = 760;
    int height = 460;
};

struct BarChart {
    std::string title;
    std::string x_label;
    Axis y;
    std::vector<std::string> categories;
    // values[s][c]: series s in category c; nullopt draws no bar.
    std::vector<std::string> series;
    std::vector<std::vector<std::optional<double>>> values;
    int width = 760;
    int height = 460;
};

// Throws Error if there is nothing to draw (no finite point, or none left on
// a log axis).
std::string render(const LineChart& chart);
std::string render(const BarChart& chart);

// "Nice" ticks covering [lo, hi]: steps of 1, 2 or 5 times a power of ten,
// about `target` of them. lo < hi.
std::vector<double> linear_ticks(double lo, double hi, int target = 6);
// Powers of ten covering [lo, hi] (0 < lo < hi), with 2 and 5 in between
// when the range spans fewer than three decades.
std::vector<double> log_ticks(double lo, double hi);
// Compact tick text: "0", "0.25", "1500", "12k", "1.5M", "2G".
std::string tick_label(double value);

}  // namespace mvmm::scenario::chart
