#include <algorithm>
#include <array>
#include <sstream>
#include <vector>

#include <mvmm/common/strings.hpp>
#include <mvmm/control/text_report.hpp>

namespace mvmm::control {
namespace {

using nlohmann::json;

// Columns that identify a row come first; the rest keep the reply's order
// (alphabetical, as the server sends objects).
constexpr std::array<std::string_view, 8> kLeadingColumns{"index", "pid",   "name", "level",
                                                          "path",  "table", "comm", "event"};

bool names_bytes(const std::string& key) {
    return key == "bytes" || key == "size" ||
           (key.size() > 6 && key.compare(key.size() - 6, 6, "-bytes") == 0);
}

bool is_scalar(const json& value) {
    return !value.is_object() && !value.is_array();
}

bool is_table(const json& value) {
    return value.is_array() && !value.empty() &&
           std::all_of(value.begin(), value.end(), [](const json& v) { return v.is_object(); });
}

std::string scalar_text(const json& value) {
    if (value.is_string()) {
        return value.get<std::string>();
    }
    if (value.is_boolean()) {
        return value.get<bool>() ? "yes" : "no";
    }
    if (value.is_null()) {
        return "-";
    }
    return value.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::vector<std::string> column_order(const json& rows) {
    std::vector<std::string> columns;
    for (const auto& row : rows) {
        for (const auto& [key, value] : row.items()) {
            if (std::find(columns.begin(), columns.end(), key) == columns.end()) {
                columns.push_back(key);
            }
        }
    }
    std::stable_sort(
        columns.begin(), columns.end(), [](const std::string& a, const std::string& b) {
            const auto rank = [](const std::string& k) {
                const auto it = std::find(kLeadingColumns.begin(), kLeadingColumns.end(), k);
                return static_cast<std::size_t>(it - kLeadingColumns.begin());
            };
            return rank(a) < rank(b);
        });
    return columns;
}

std::string upper(std::string text) {
    for (char& c : text) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>(c - 'a' + 'A');
        }
    }
    return text;
}

void render_table(std::ostringstream& out, const json& rows, const std::string& indent) {
    const auto columns = column_order(rows);
    std::vector<std::vector<std::string>> cells;
    std::vector<std::size_t> widths;
    widths.reserve(columns.size());
    for (const auto& column : columns) {
        widths.push_back(column.size());
    }
    for (const auto& row : rows) {
        std::vector<std::string> line;
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const auto it = row.find(columns[i]);
            line.push_back(it == row.end() ? "-" : render_cell(columns[i], *it));
            widths[i] = std::max(widths[i], line.back().size());
        }
        cells.push_back(std::move(line));
    }
    const auto print_line = [&](const std::vector<std::string>& line) {
        std::string text = indent;
        for (std::size_t i = 0; i < line.size(); ++i) {
            text += line[i];
            if (i + 1 < line.size()) {
                text += std::string(widths[i] - line[i].size() + 2, ' ');
            }
        }
        out << text << "\n";
    };
    std::vector<std::string> header;
    header.reserve(columns.size());
    for (const auto& column : columns) {
        header.push_back(upper(column));
    }
    print_line(header);
    for (const auto& line : cells) {
        print_line(line);
    }
}

void render_object(std::ostringstream& out, const json& object, const std::string& indent) {
    std::size_t width = 0;
    for (const auto& [key, value] : object.items()) {
        if (is_scalar(value) || (value.is_array() && !is_table(value))) {
            width = std::max(width, key.size());
        }
    }
    // Scalars first, as one aligned block; then sections and tables.
    for (const auto& [key, value] : object.items()) {
        if (is_scalar(value) || (value.is_array() && !is_table(value))) {
            std::string text = render_cell(key, value);
            if (names_bytes(key) && value.is_number_integer()) {
                text += cat(" (", value.dump(), ")");
            }
            out << indent << key << std::string(width - key.size() + 2, ' ') << text << "\n";
        }
    }
    for (const auto& [key, value] : object.items()) {
        if (value.is_object() || is_table(value)) {
            if (out.tellp() > 0) {
                out << "\n";
            }
            out << indent << key << ":\n";
            if (value.is_object()) {
                render_object(out, value, indent + "  ");
            } else {
                render_table(out, value, indent + "  ");
            }
        }
    }
}

}  // namespace

std::string render_cell(const std::string& key, const json& value) {
    if (value.is_array()) {
        if (value.empty()) {
            return "-";
        }
        std::string text;
        for (const auto& item : value) {
            text += (text.empty() ? "" : ",") +
                    (is_scalar(item) ? scalar_text(item)
                                     : item.dump(-1, ' ', false, json::error_handler_t::replace));
        }
        return text;
    }
    if (value.is_object()) {
        return value.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    if (names_bytes(key) && value.is_number_unsigned()) {
        return human_bytes(value.get<std::uint64_t>());
    }
    if (names_bytes(key) && value.is_number_integer() && value.get<std::int64_t>() >= 0) {
        return human_bytes(static_cast<std::uint64_t>(value.get<std::int64_t>()));
    }
    return scalar_text(value);
}

std::string render_text(const json& value, const std::string& indent) {
    std::ostringstream out;
    if (value.is_object()) {
        if (value.empty()) {
            return indent + "ok\n";
        }
        render_object(out, value, indent);
    } else if (is_table(value)) {
        render_table(out, value, indent);
    } else if (value.is_array()) {
        for (const auto& item : value) {
            out << indent << render_cell("", item) << "\n";
        }
    } else {
        out << indent << scalar_text(value) << "\n";
    }
    return out.str();
}

}  // namespace mvmm::control
