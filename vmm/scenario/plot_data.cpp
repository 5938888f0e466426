#include <algorithm>
#include <cmath>
#include <map>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/plot_data.hpp>

namespace mvmm::scenario {
namespace {

using nlohmann::json;

json::json_pointer pointer(const std::string& text, std::string_view what) {
    try {
        return json::json_pointer(text);
    } catch (const json::exception&) {
        throw Error(cat("plot: ", what, " ", quote(text),
                        " is not a JSON pointer (\"/a/0/b\"; escape ~ as ~0 and / as ~1)"));
    }
}

std::optional<json> lookup(const json& doc, const json::json_pointer& p) {
    try {
        if (doc.contains(p)) {
            return doc.at(p);
        }
    } catch (const json::exception&) {
    }
    return std::nullopt;
}

std::string label(const json& v) {
    return v.is_string() ? v.get<std::string>() : v.dump();
}

std::string format_value(double v) {
    std::array<char, 32> buf{};
    if (std::fabs(v) >= 1e15 || v == std::floor(v)) {
        std::snprintf(buf.data(), buf.size(), "%.0f", v);
    } else {
        std::snprintf(buf.data(), buf.size(), "%.4g", v);
    }
    return buf.data();
}

}  // namespace

PlotData collect_plot_data(const std::vector<json>& reports, const PlotQuery& q) {
    const auto px = pointer(q.x, "--x");
    const auto py = pointer(q.y, "--y");
    const auto ps = q.series.empty() ? std::optional<json::json_pointer>()
                                     : std::optional(pointer(q.series, "--series"));
    const auto pe =
        q.each ? std::optional(pointer(*q.each, "--each")) : std::optional<json::json_pointer>();
    const auto pd = q.y_divide_by ? std::optional(pointer(*q.y_divide_by, "--y-divide-by"))
                                  : std::optional<json::json_pointer>();
    std::vector<std::pair<json::json_pointer, json>> where;
    for (const auto& [p, v] : q.where) {
        where.emplace_back(pointer(p, "--where"), v);
    }

    struct Raw {
        std::string series;
        json x;
        double y;
    };
    std::vector<Raw> raw;
    PlotData data;
    for (std::size_t r = 0; r < reports.size(); ++r) {
        const auto& report = reports[r];
        if (!report.is_object() || !report.contains("scenarios") ||
            !report["scenarios"].is_array()) {
            throw Error(cat("plot: report ", r + 1, " is not a scenario report (no scenarios)"));
        }
        for (const auto& scenario : report["scenarios"]) {
            const auto id =
                cat(std::filesystem::path(scenario.value("file", "?")).filename().string(), ": ",
                    scenario.value("name", "?"));
            if (!q.include_failed && scenario.value("status", "") != "passed") {
                data.skipped.push_back(cat(id, ": ", scenario.value("status", "?")));
                continue;
            }
            bool selected = true;
            for (const auto& [p, v] : where) {
                const auto found = lookup(scenario, p);
                if (!found || *found != v) {
                    selected = false;
                }
            }
            if (!selected) {
                continue;
            }
            std::vector<json> contexts;
            if (pe) {
                const auto items = lookup(scenario, *pe);
                if (!items || !items->is_array()) {
                    data.skipped.push_back(cat(id, ": no array at ", *q.each));
                    continue;
                }
                for (const auto& item : *items) {
                    json c = scenario;
                    c["item"] = item;
                    contexts.push_back(std::move(c));
                }
            } else {
                contexts.push_back(scenario);
            }
            for (const auto& c : contexts) {
                const auto x = lookup(c, px);
                const auto y = lookup(c, py);
                if (!x || x->is_null() || x->is_structured()) {
                    data.skipped.push_back(cat(id, ": no x value at ", q.x));
                    continue;
                }
                if (!y || !y->is_number()) {
                    data.skipped.push_back(cat(id, ": no number at ", q.y));
                    continue;
                }
                double value = y->get<double>() * q.y_scale;
                if (pd) {
                    const auto d = lookup(c, *pd);
                    if (!d || !d->is_number() || d->get<double>() == 0) {
                        data.skipped.push_back(cat(id, ": no non-zero number at ", *q.y_divide_by));
                        continue;
                    }
                    value /= d->get<double>();
                }
                std::string series = q.y;
                if (ps) {
                    const auto s = lookup(c, *ps);
                    series = s ? label(*s) : "?";
                }
                raw.push_back({series, *x, value});
            }
        }
    }

    data.categorical =
        std::any_of(raw.begin(), raw.end(), [](const Raw& p) { return !p.x.is_number(); });
    std::map<std::string, std::size_t> series_index;
    std::map<std::string, std::size_t> category_index;
    for (const auto& p : raw) {
        if (!series_index.contains(p.series)) {
            series_index[p.series] = data.series.size();
            data.series.push_back(p.series);
            data.points.emplace_back();
        }
        double x = 0;
        if (data.categorical) {
            const auto name = label(p.x);
            if (!category_index.contains(name)) {
                category_index[name] = data.categories.size();
                data.categories.push_back(name);
            }
            x = static_cast<double>(category_index[name]);
        } else {
            x = p.x.get<double>();
        }
        data.points[series_index[p.series]].push_back({x, p.y});
    }
    for (auto& pts : data.points) {
        std::stable_sort(pts.begin(), pts.end(),
                         [](const chart::Point& a, const chart::Point& b) { return a.x < b.x; });
    }
    return data;
}

std::string markdown_table(const PlotData& data, const std::string& x_label,
                           const std::string& y_label) {
    std::vector<double> xs;
    for (const auto& pts : data.points) {
        for (const auto& p : pts) {
            xs.push_back(p.x);
        }
    }
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    std::string out = cat("| ", x_label, " |");
    std::string rule = "| --- |";
    for (const auto& s : data.series) {
        out +=
            cat(" ", s, data.series.size() == 1 && s != y_label ? " (" + y_label + ")" : "", " |");
        rule += " ---: |";
    }
    out += "\n" + rule + "\n";
    for (double x : xs) {
        out +=
            "| " +
            (data.categorical ? data.categories.at(static_cast<std::size_t>(x)) : format_value(x)) +
            " |";
        for (const auto& pts : data.points) {
            std::string cell = " - ";
            for (const auto& p : pts) {
                if (p.x == x) {
                    cell = " " + format_value(p.y) + " ";
                    break;
                }
            }
            out += cell + "|";
        }
        out += "\n";
    }
    return out;
}

}  // namespace mvmm::scenario
