#include <charconv>
#include <optional>
#include <string>
#include <vector>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/qemu/monitor_parse.hpp>

namespace mvmm {
namespace {

std::optional<std::uint64_t> parse_hex(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value, 16);
    if (ec != std::errc() || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return value;
}

// One line of a flat view: "  0000000000100000-00000000bfffffff (prio 0, ram): ram
// @0000000000100000"
struct FlatRange {
    std::uint64_t first = 0;
    std::uint64_t last = 0;
    std::string type;
    std::string name;
    std::uint64_t offset = 0;
};

std::optional<FlatRange> parse_flat_range(std::string_view line) {
    line = trim(line);
    const auto dash = line.find('-');
    const auto open = line.find(" (prio ");
    const auto close = line.find("): ");
    if (dash == std::string_view::npos || open == std::string_view::npos ||
        close == std::string_view::npos || !(dash < open && open < close)) {
        return std::nullopt;
    }
    FlatRange r;
    const auto first = parse_hex(line.substr(0, dash));
    const auto last = parse_hex(line.substr(dash + 1, open - dash - 1));
    if (!first || !last || *last < *first) {
        return std::nullopt;
    }
    r.first = *first;
    r.last = *last;
    // "(prio 0, ram)": the type follows the comma.
    const auto attrs = line.substr(open + 2, close - open - 2);
    const auto comma = attrs.find(", ");
    if (comma == std::string_view::npos) {
        return std::nullopt;
    }
    r.type = std::string(attrs.substr(comma + 2));
    const auto words = split(line.substr(close + 3), ' ');
    if (words.empty() || words[0].empty()) {
        return std::nullopt;
    }
    r.name = words[0];
    if (words.size() > 1 && starts_with(words[1], "@")) {
        const auto offset = parse_hex(std::string_view(words[1]).substr(1));
        if (!offset) {
            return std::nullopt;
        }
        r.offset = *offset;
    }
    return r;
}

}  // namespace

RamLayout parse_ram_layout(std::string_view mtree, std::string_view backend_id) {
    // Flat views are separated by "FlatView #n" headers, each followed by the
    // address spaces that use it (' AS "memory", root: system').
    bool in_system_view = false;
    bool saw_system_view = false;
    std::vector<RamRange> ranges;
    for (const auto& raw : split(mtree, '\n')) {
        std::string_view line = raw;
        if (!line.empty() && line.back() == '\r') {
            line.remove_suffix(1);
        }
        if (starts_with(line, "FlatView #")) {
            if (saw_system_view) {
                break;
            }
            in_system_view = false;
            continue;
        }
        if (starts_with(trim(line), "AS \"memory\"")) {
            in_system_view = true;
            saw_system_view = true;
            continue;
        }
        if (!in_system_view) {
            continue;
        }
        const auto r = parse_flat_range(line);
        if (!r || r->type != "ram" || r->name != backend_id) {
            continue;
        }
        const std::uint64_t size = r->last - r->first + 1;
        if (!ranges.empty()) {
            auto& prev = ranges.back();
            if (prev.gpa + prev.size == r->first && prev.offset + prev.size == r->offset) {
                prev.size += size;
                continue;
            }
        }
        ranges.push_back({.gpa = r->first, .size = size, .offset = r->offset});
    }
    if (!saw_system_view) {
        throw Error("QEMU memory tree: no flat view of the system address space (AS \"memory\")");
    }
    if (ranges.empty()) {
        throw Error(cat("QEMU memory tree: the system address space has no RAM of backend ",
                        quote(backend_id)));
    }
    return RamLayout(std::move(ranges));
}

SpecialRegisters parse_special_registers(std::string_view info_registers, unsigned vcpu) {
    const std::string header = cat("CPU#", vcpu);
    std::string section;
    bool found = false;
    for (const auto& line : split(info_registers, '\n')) {
        const auto word = trim(line);
        if (starts_with(word, "CPU#")) {
            if (found) {
                break;
            }
            found = word == header;
            continue;
        }
        if (found) {
            section += line;
            section += '\n';
        }
    }
    if (!found) {
        throw Error(cat("QEMU registers: no section for vCPU ", vcpu, " (", quote(header), ")"));
    }
    auto value = [&](std::string_view name) {
        const std::string key = cat(name, "=");
        std::size_t at = 0;
        while ((at = section.find(key, at)) != std::string_view::npos) {
            // A whole word: "CR0=" but not "XCR0=".
            const bool word_start = at == 0 || section[at - 1] == ' ' || section[at - 1] == '\n';
            if (word_start) {
                auto digits = std::string_view(section).substr(at + key.size());
                digits = digits.substr(0, digits.find_first_not_of("0123456789abcdefABCDEF"));
                if (const auto v = parse_hex(digits)) {
                    return *v;
                }
                break;
            }
            at += key.size();
        }
        throw Error(cat("QEMU registers: no ", name, " for vCPU ", vcpu));
    };
    SpecialRegisters regs;
    regs.cr0 = value("CR0");
    regs.cr2 = value("CR2");
    regs.cr3 = value("CR3");
    regs.cr4 = value("CR4");
    regs.efer = value("EFER");
    return regs;
}

}  // namespace mvmm
