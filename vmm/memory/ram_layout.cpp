#include <algorithm>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

RamLayout::RamLayout(std::vector<RamRange> ranges) : ranges_(std::move(ranges)) {
    for (std::size_t i = 0; i < ranges_.size(); ++i) {
        const auto& r = ranges_[i];
        if (r.size == 0) {
            throw Error(cat("RAM layout: range ", i, " at ", hex(r.gpa), " has size 0"));
        }
        if (r.gpa + r.size < r.gpa || r.offset + r.size < r.offset) {
            throw Error(cat("RAM layout: range ", i, " at ", hex(r.gpa), " wraps around"));
        }
        if (i > 0) {
            const auto& prev = ranges_[i - 1];
            if (r.gpa < prev.gpa + prev.size) {
                throw Error(cat("RAM layout: range ", i, " at ", hex(r.gpa),
                                " overlaps or is before range ", i - 1, " ending at ",
                                hex(prev.gpa + prev.size)));
            }
        }
    }
    for (std::size_t i = 0; i < ranges_.size(); ++i) {
        for (std::size_t j = i + 1; j < ranges_.size(); ++j) {
            const auto& a = ranges_[i];
            const auto& b = ranges_[j];
            if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
                throw Error(cat("RAM layout: ranges ", i, " and ", j, " share backing bytes"));
            }
        }
    }
}

RamLayout RamLayout::x86_standard(std::uint64_t ram_bytes) {
    if (ram_bytes == 0) {
        throw Error("RAM layout: guest RAM size is 0");
    }
    std::vector<RamRange> ranges;
    const auto low = std::min(ram_bytes, kLowRamLimit);
    ranges.push_back({0, low, 0});
    if (ram_bytes > kLowRamLimit) {
        ranges.push_back({kHighRamBase, ram_bytes - kLowRamLimit, kLowRamLimit});
    }
    return RamLayout(std::move(ranges));
}

std::uint64_t RamLayout::total_bytes() const noexcept {
    std::uint64_t total = 0;
    for (const auto& r : ranges_) {
        total += r.size;
    }
    return total;
}

std::uint64_t RamLayout::end_gpa() const noexcept {
    return ranges_.empty() ? 0 : ranges_.back().gpa + ranges_.back().size;
}

std::uint64_t RamLayout::backing_size() const noexcept {
    std::uint64_t end = 0;
    for (const auto& r : ranges_) {
        end = std::max(end, r.offset + r.size);
    }
    return end;
}

std::optional<std::uint64_t> RamLayout::offset_of(std::uint64_t gpa,
                                                  std::uint64_t len) const noexcept {
    for (const auto& r : ranges_) {
        if (gpa >= r.gpa && gpa - r.gpa < r.size && len <= r.size - (gpa - r.gpa)) {
            return r.offset + (gpa - r.gpa);
        }
    }
    return std::nullopt;
}

bool RamLayout::contains(std::uint64_t gpa, std::uint64_t len) const noexcept {
    return offset_of(gpa, len).has_value();
}

}  // namespace mvmm
