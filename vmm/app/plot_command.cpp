#include "plot_command.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/plot_data.hpp>
#include <mvmm/scenario/report.hpp>
#include <mvmm/scenario/svg_chart.hpp>

namespace mvmm::app {
namespace {

using nlohmann::json;
namespace sc = mvmm::scenario;

json read_report(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(cat("report ", quote(file), ": cannot be read (", errno_text(errno), ")"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        return json::parse(buffer.str());
    } catch (const json::parse_error& e) {
        throw Error(cat("report ", quote(file), ": not valid JSON (", e.what(), ")"));
    }
}

std::pair<std::string, json> parse_where(const std::string& text) {
    const auto eq = text.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw Error(
            cat("--where ", quote(text), ": expected POINTER=VALUE, e.g. /parameters/mode=mshare"));
    }
    const auto pointer = text.substr(0, eq);
    const auto value = text.substr(eq + 1);
    // A JSON value if it is one (64, true, "x"), else the text itself.
    try {
        return {pointer, json::parse(value)};
    } catch (const json::parse_error&) {
        return {pointer, json(value)};
    }
}

// The last member of a pointer, for default labels: "/saved/a/page_tables" -> "page_tables".
std::string last_token(const std::string& pointer) {
    const auto slash = pointer.rfind('/');
    return slash == std::string::npos ? pointer : pointer.substr(slash + 1);
}

void write_output(const std::string& file, const std::string& content) {
    if (file == "-") {
        std::fwrite(content.data(), 1, content.size(), stdout);
        return;
    }
    sc::write_file_atomically(file, content);
}

}  // namespace

CLI::App* add_plot_command(CLI::App& app, PlotOptions& o) {
    auto* plot = app.add_subcommand(
        "plot", "Draw an SVG chart (and a Markdown table) from scenario JSON reports");
    plot->add_option("reports", o.reports, "Scenario JSON reports (mshare-vmm scenario --json)")
        ->required();
    plot->add_option("-o,--output", o.output, "SVG file to write (- for stdout)");
    plot->add_option("--table", o.table, "Also write the data as a Markdown table (- for stdout)");
    plot->add_option("--x", o.x, "JSON pointer of x in each scenario, e.g. /parameters/N")
        ->required();
    plot->add_option("--y", o.y, "JSON pointer of y, e.g. /saved/bench/json/page_tables_bytes")
        ->required();
    plot->add_option("--series", o.series,
                     "JSON pointer of the series name, e.g. /parameters/mode (one line or bar "
                     "colour per value)");
    plot->add_option("--series-prefix", o.series_prefix,
                     "Text put before each series name in the legend, e.g. N=");
    plot->add_option("--each", o.each,
                     "JSON pointer of an array in each scenario: one point per element, "
                     "reachable as /item/... in --x, --y and --series");
    plot->add_option("--where", o.where,
                     "Only scenarios where POINTER equals VALUE (JSON or text); repeatable");
    plot->add_option("--y-scale", o.y_scale,
                     "Multiply y by this, e.g. 9.5367431640625e-07 for MiB");
    plot->add_option("--y-divide-by", o.y_divide_by,
                     "Divide y by the number at this JSON pointer, e.g. /parameters/N");
    plot->add_flag("--log-x", o.log_x, "Logarithmic x axis");
    plot->add_flag("--log-y", o.log_y, "Logarithmic y axis");
    plot->add_flag("--bar", o.bar, "Bar chart (the default when some x is not a number)");
    plot->add_flag("--include-failed", o.include_failed,
                   "Use failed scenarios too (by default only passed ones count)");
    plot->add_option("--title", o.title, "Chart title");
    plot->add_option("--x-label", o.x_label, "X axis label (default: the last member of --x)");
    plot->add_option("--y-label", o.y_label, "Y axis label (default: the last member of --y)");
    return plot;
}

int run_plot(const PlotOptions& o) {
    try {
        if (o.output.empty() && o.table.empty()) {
            throw Error("plot: nothing to write: give -o FILE.svg and/or --table FILE");
        }
        std::vector<json> reports;
        for (const auto& file : o.reports) {
            reports.push_back(read_report(file));
        }
        sc::PlotQuery q;
        q.x = o.x;
        q.y = o.y;
        q.series = o.series;
        if (!o.each.empty()) {
            q.each = o.each;
        }
        if (!o.y_divide_by.empty()) {
            q.y_divide_by = o.y_divide_by;
        }
        q.y_scale = o.y_scale;
        q.include_failed = o.include_failed;
        for (const auto& w : o.where) {
            q.where.push_back(parse_where(w));
        }
        auto data = sc::collect_plot_data(reports, q);
        for (auto& name : data.series) {
            name.insert(0, o.series_prefix);
        }
        for (const auto& s : data.skipped) {
            std::fprintf(stderr, "mshare-vmm plot: left out %s\n", s.c_str());
        }
        std::size_t points = 0;
        for (const auto& p : data.points) {
            points += p.size();
        }
        if (points == 0) {
            throw Error(cat("plot: no data point found at --x ", quote(o.x), " and --y ",
                            quote(o.y), " in ", o.reports.size(), " report(s)"));
        }
        const auto x_label = o.x_label.empty() ? last_token(o.x) : o.x_label;
        const auto y_label = o.y_label.empty() ? last_token(o.y) : o.y_label;
        if (!o.output.empty()) {
            std::string svg;
            if (o.bar || data.categorical) {
                sc::chart::BarChart c;
                c.title = o.title;
                c.x_label = x_label;
                c.y.label = y_label;
                c.y.log = o.log_y;
                c.series = data.series;
                if (data.categorical) {
                    c.categories = data.categories;
                } else {
                    // Numeric x drawn as categories, in order.
                    std::vector<double> xs;
                    for (const auto& pts : data.points) {
                        for (const auto& p : pts) {
                            xs.push_back(p.x);
                        }
                    }
                    std::sort(xs.begin(), xs.end());
                    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
                    for (double x : xs) {
                        c.categories.push_back(sc::chart::tick_label(x));
                    }
                    for (const auto& pts : data.points) {
                        std::vector<std::optional<double>> row(xs.size());
                        for (const auto& p : pts) {
                            const auto at =
                                std::lower_bound(xs.begin(), xs.end(), p.x) - xs.begin();
                            row[static_cast<std::size_t>(at)] = p.y;
                        }
                        c.values.push_back(std::move(row));
                    }
                }
                if (data.categorical) {
                    for (const auto& pts : data.points) {
                        std::vector<std::optional<double>> row(data.categories.size());
                        for (const auto& p : pts) {
                            row[static_cast<std::size_t>(p.x)] = p.y;
                        }
                        c.values.push_back(std::move(row));
                    }
                }
                svg = sc::chart::render(c);
            } else {
                sc::chart::LineChart c;
                c.title = o.title;
                c.x.label = x_label;
                c.x.log = o.log_x;
                c.y.label = y_label;
                c.y.log = o.log_y;
                for (std::size_t i = 0; i < data.series.size(); ++i) {
                    c.series.push_back({data.series[i], data.points[i]});
                }
                svg = sc::chart::render(c);
            }
            write_output(o.output, svg);
        }
        if (!o.table.empty()) {
            write_output(o.table, sc::markdown_table(data, x_label, y_label));
        }
        return 0;
    } catch (const Error& e) {
        std::fprintf(stderr, "mshare-vmm: %s\n", e.what());
        return 1;
    }
}

}  // namespace mvmm::app
