#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/report.hpp>
#include <mvmm/scenario/svg_chart.hpp>

namespace mvmm::scenario::chart {
namespace {

// Colour-blind-safe palette (Okabe and Ito).
constexpr std::array<const char*, 8> kColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                 "#E69F00", "#56B4E9", "#000000", "#F0E442"};

constexpr double kLeft = 84;
constexpr double kRight = 180;  // room for the legend
constexpr double kTop = 48;
constexpr double kBottom = 64;

std::string num(double v) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.2f", v);
    return buf.data();
}

std::string text(double x, double y, const std::string& content, const char* anchor,
                 const std::string& extra = "") {
    return cat("<text x=\"", num(x), "\" y=\"", num(y), "\" text-anchor=\"", anchor, "\"", extra,
               ">", xml_escape(content), "</text>\n");
}

// A mapping of data values onto a pixel range.
class Scale {
  public:
    Scale(double lo, double hi, bool log, double p0, double p1)
        : lo_(log ? std::log10(lo) : lo),
          hi_(log ? std::log10(hi) : hi),
          log_(log),
          p0_(p0),
          p1_(p1) {}
    [[nodiscard]] double operator()(double v) const {
        const double t = ((log_ ? std::log10(v) : v) - lo_) / (hi_ - lo_);
        return p0_ + t * (p1_ - p0_);
    }

  private:
    double lo_, hi_;
    bool log_;
    double p0_, p1_;
};

// The data range of an axis, widened to its ticks, and the ticks.
struct Range {
    double lo = 0;
    double hi = 1;
    std::vector<double> ticks;
};

Range axis_range(const std::vector<double>& values, const Axis& axis, bool include_zero) {
    std::vector<double> usable;
    for (double v : values) {
        if (std::isfinite(v) && (!axis.log || v > 0)) {
            usable.push_back(v);
        }
    }
    if (usable.empty()) {
        throw Error(cat("chart axis ", quote(axis.label), ": no value to plot",
                        axis.log ? " (a log axis needs values above 0)" : ""));
    }
    auto [mn, mx] = std::minmax_element(usable.begin(), usable.end());
    double lo = axis.min.value_or(*mn);
    double hi = axis.max.value_or(*mx);
    if (include_zero && !axis.log && !axis.min) {
        lo = std::min(lo, 0.0);
    }
    if (axis.log) {
        lo = std::max(lo, std::numeric_limits<double>::min());
        if (hi <= lo) {
            lo /= 10;
            hi *= 10;
        }
        Range r;
        r.ticks = log_ticks(lo, hi);
        r.lo = std::min(lo, r.ticks.front());
        r.hi = std::max(hi, r.ticks.back());
        return r;
    }
    if (hi <= lo) {
        const double pad = lo == 0 ? 1 : std::fabs(lo) * 0.1;
        lo -= pad;
        hi += pad;
    }
    Range r;
    r.ticks = linear_ticks(lo, hi);
    r.lo = axis.min ? lo : std::min(lo, r.ticks.front());
    r.hi = axis.max ? hi : std::max(hi, r.ticks.back());
    std::erase_if(r.ticks, [&](double t) {
        return t < r.lo - 1e-9 * (r.hi - r.lo) || t > r.hi + 1e-9 * (r.hi - r.lo);
    });
    return r;
}

std::string header(int width, int height, const std::string& title) {
    std::string svg = cat("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"", width,
                          "\" height=\"", height, "\" viewBox=\"0 0 ", width, " ", height,
                          "\" font-family=\"sans-serif\" font-size=\"12\">\n",
                          "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
    if (!title.empty()) {
        svg += text(width / 2.0, 24, title, "middle", " font-size=\"15\" font-weight=\"bold\"");
    }
    return svg;
}

// Y axis: grid lines, ticks, labels, the axis label.
std::string y_axis(const Range& r, const Scale& sy, const Axis& axis, double x0, double x1,
                   double y_bottom, double y_top) {
    std::string svg;
    for (double t : r.ticks) {
        const double y = sy(t);
        svg += cat("<line x1=\"", num(x0), "\" y1=\"", num(y), "\" x2=\"", num(x1), "\" y2=\"",
                   num(y), "\" stroke=\"#e0e0e0\"/>\n");
        svg += text(x0 - 6, y + 4, tick_label(t), "end");
    }
    svg += cat("<line x1=\"", num(x0), "\" y1=\"", num(y_bottom), "\" x2=\"", num(x0), "\" y2=\"",
               num(y_top), "\" stroke=\"black\"/>\n");
    const double mid = (y_bottom + y_top) / 2;
    svg += text(18, mid, axis.label + (axis.log ? " (log)" : ""), "middle",
                cat(" transform=\"rotate(-90 18 ", num(mid), ")\""));
    return svg;
}

std::string legend(const std::vector<std::string>& names, double x, double y, bool bars) {
    std::string svg;
    for (std::size_t i = 0; i < names.size(); ++i) {
        const char* colour = kColours[i % kColours.size()];
        const double row = y + static_cast<double>(i) * 20;
        if (bars) {
            svg += cat("<rect x=\"", num(x), "\" y=\"", num(row - 9),
                       "\" width=\"14\" "
                       "height=\"10\" fill=\"",
                       colour, "\"/>\n");
        } else {
            svg +=
                cat("<line x1=\"", num(x), "\" y1=\"", num(row - 4), "\" x2=\"", num(x + 18),
                    "\" y2=\"", num(row - 4), "\" stroke=\"", colour, "\" stroke-width=\"2\"/>\n");
            svg += cat("<circle cx=\"", num(x + 9), "\" cy=\"", num(row - 4), "\" r=\"3\" fill=\"",
                       colour, "\"/>\n");
        }
        svg += text(x + 24, row, names[i], "start");
    }
    return svg;
}

}  // namespace

std::vector<double> linear_ticks(double lo, double hi, int target) {
    const double span = hi - lo;
    const double raw = span / std::max(1, target);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 5.0, 10.0}) {
        step = m * mag;
        if (raw <= step) {
            break;
        }
    }
    std::vector<double> ticks;
    const auto first = static_cast<long long>(std::floor(lo / step));
    for (long long k = first; k <= first + 100; ++k) {
        const double t = static_cast<double>(k) * step;
        if (t > hi + step * 0.5) {
            break;
        }
        ticks.push_back(t);
    }
    // Widen to cover hi.
    if (ticks.back() < hi) {
        ticks.push_back(ticks.back() + step);
    }
    return ticks;
}

std::vector<double> log_ticks(double lo, double hi) {
    const int first = static_cast<int>(std::floor(std::log10(lo) + 1e-9));
    const int last = static_cast<int>(std::ceil(std::log10(hi) - 1e-9));
    const bool fine = last - first < 3;
    std::vector<double> ticks;
    for (int e = first; e <= last; ++e) {
        const double base = std::pow(10.0, e);
        ticks.push_back(base);
        if (fine && e < last) {
            ticks.push_back(2 * base);
            ticks.push_back(5 * base);
        }
    }
    return ticks;
}

std::string tick_label(double v) {
    if (v == 0) {
        return "0";
    }
    const double a = std::fabs(v);
    std::array<char, 32> buf{};
    static constexpr std::array<std::pair<double, const char*>, 4> kUnits = {
        {{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e4, "k"}}};
    for (const auto& [scale, suffix] : kUnits) {
        if (a >= scale) {
            const double d = scale == 1e4 ? 1e3 : scale;
            std::snprintf(buf.data(), buf.size(), "%.3g%s", v / d, suffix);
            return buf.data();
        }
    }
    std::snprintf(buf.data(), buf.size(), "%g", v);
    return buf.data();
}

std::string render(const LineChart& c) {
    std::vector<double> xs;
    std::vector<double> ys;
    for (const auto& s : c.series) {
        for (const auto& p : s.points) {
            if (std::isfinite(p.x) && std::isfinite(p.y) && (!c.x.log || p.x > 0) &&
                (!c.y.log || p.y > 0)) {
                xs.push_back(p.x);
                ys.push_back(p.y);
            }
        }
    }
    if (xs.empty()) {
        throw Error(cat("chart ", quote(c.title), ": no point to plot"));
    }
    const auto rx = axis_range(xs, c.x, false);
    const auto ry = axis_range(ys, c.y, true);
    const double x0 = kLeft;
    const double x1 = c.width - kRight;
    const double y0 = c.height - kBottom;
    const double y1 = kTop;
    const Scale sx(rx.lo, rx.hi, c.x.log, x0, x1);
    const Scale sy(ry.lo, ry.hi, c.y.log, y0, y1);

    std::string svg = header(c.width, c.height, c.title);
    svg += y_axis(ry, sy, c.y, x0, x1, y0, y1);
    for (double t : rx.ticks) {
        const double x = sx(t);
        svg += cat("<line x1=\"", num(x), "\" y1=\"", num(y0), "\" x2=\"", num(x), "\" y2=\"",
                   num(y1), "\" stroke=\"#f0f0f0\"/>\n");
        svg += cat("<line x1=\"", num(x), "\" y1=\"", num(y0), "\" x2=\"", num(x), "\" y2=\"",
                   num(y0 + 5), "\" stroke=\"black\"/>\n");
        svg += text(x, y0 + 18, tick_label(t), "middle");
    }
    svg += cat("<line x1=\"", num(x0), "\" y1=\"", num(y0), "\" x2=\"", num(x1), "\" y2=\"",
               num(y0), "\" stroke=\"black\"/>\n");
    svg += text((x0 + x1) / 2, c.height - 20, c.x.label + (c.x.log ? " (log)" : ""), "middle");

    std::vector<std::string> names;
    for (std::size_t i = 0; i < c.series.size(); ++i) {
        const auto& s = c.series[i];
        names.push_back(s.name);
        const char* colour = kColours[i % kColours.size()];
        auto points = s.points;
        std::erase_if(points, [&](const Point& p) {
            return !std::isfinite(p.x) || !std::isfinite(p.y) || (c.x.log && p.x <= 0) ||
                   (c.y.log && p.y <= 0);
        });
        std::sort(points.begin(), points.end(),
                  [](const Point& a, const Point& b) { return a.x < b.x; });
        if (points.empty()) {
            continue;
        }
        std::string path;
        for (const auto& p : points) {
            path += cat(path.empty() ? "M" : " L", num(sx(p.x)), " ", num(sy(p.y)));
        }
        svg += cat("<path d=\"", path, "\" fill=\"none\" stroke=\"", colour,
                   "\" stroke-width=\"2\"/>\n");
        for (const auto& p : points) {
            svg += cat("<circle cx=\"", num(sx(p.x)), "\" cy=\"", num(sy(p.y)),
                       "\" r=\"3\" fill=\"", colour, "\"><title>",
                       xml_escape(cat(s.name, ": ", p.x, ", ", p.y)), "</title></circle>\n");
        }
    }
    svg += legend(names, x1 + 16, y1 + 12, false);
    svg += "</svg>\n";
    return svg;
}

std::string render(const BarChart& c) {
    std::vector<double> ys;
    for (const auto& row : c.values) {
        for (const auto& v : row) {
            if (v) {
                ys.push_back(*v);
            }
        }
    }
    if (c.categories.empty() || ys.empty()) {
        throw Error(cat("chart ", quote(c.title), ": no bar to draw"));
    }
    const auto ry = axis_range(ys, c.y, true);
    const double x0 = kLeft;
    const double x1 = c.width - kRight;
    const double y0 = c.height - kBottom;
    const double y1 = kTop;
    const Scale sy(ry.lo, ry.hi, c.y.log, y0, y1);

    std::string svg = header(c.width, c.height, c.title);
    svg += y_axis(ry, sy, c.y, x0, x1, y0, y1);
    const double group = (x1 - x0) / static_cast<double>(c.categories.size());
    const auto nseries = std::max<std::size_t>(1, c.series.size());
    const double bar = group * 0.8 / static_cast<double>(nseries);
    const double base = c.y.log ? y0 : sy(std::max(ry.lo, 0.0));
    for (std::size_t k = 0; k < c.categories.size(); ++k) {
        const double gx = x0 + group * static_cast<double>(k);
        svg += text(gx + group / 2, y0 + 18, c.categories[k], "middle");
        for (std::size_t s = 0; s < c.values.size(); ++s) {
            if (k >= c.values[s].size() || !c.values[s][k]) {
                continue;
            }
            const double v = *c.values[s][k];
            if (!std::isfinite(v) || (c.y.log && v <= 0)) {
                continue;
            }
            const double top = sy(v);
            const double x = gx + group * 0.1 + bar * static_cast<double>(s);
            svg += cat("<rect x=\"", num(x), "\" y=\"", num(std::min(top, base)), "\" width=\"",
                       num(bar * 0.92), "\" height=\"", num(std::fabs(base - top)), "\" fill=\"",
                       kColours[s % kColours.size()], "\"><title>",
                       xml_escape(cat(s < c.series.size() ? c.series[s] : "", " ", c.categories[k],
                                      ": ", v)),
                       "</title></rect>\n");
            svg += text(x + bar * 0.46, std::min(top, base) - 4, tick_label(v), "middle",
                        " font-size=\"10\"");
        }
    }
    svg += cat("<line x1=\"", num(x0), "\" y1=\"", num(y0), "\" x2=\"", num(x1), "\" y2=\"",
               num(y0), "\" stroke=\"black\"/>\n");
    svg += text((x0 + x1) / 2, c.height - 20, c.x_label, "middle");
    svg += legend(c.series, x1 + 16, y1 + 12, true);
    svg += "</svg>\n";
    return svg;
}

}  // namespace mvmm::scenario::chart
