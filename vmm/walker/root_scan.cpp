#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/walker/root_scan.hpp>

namespace mvmm::walker {
namespace {

std::uint64_t load(const std::byte* table, std::size_t index) {
    std::uint64_t value = 0;
    std::memcpy(&value, table + index * 8, 8);
    return value;
}

std::span<const std::byte> reference_page(const PhysView& memory, std::uint64_t reference) {
    const auto page = memory.page(reference & entry::kAddressMask);
    if (page.empty()) {
        throw Error(cat("page-table root scan: reference table at ",
                        hex(reference & entry::kAddressMask), " is not guest RAM"));
    }
    return page;
}

}  // namespace

std::vector<unsigned> per_mm_kernel_slots(const PhysView& memory, std::uint64_t reference) {
    const auto ref = reference_page(memory, reference);
    std::vector<unsigned> slots;
    for (unsigned i = 256; i < 512; ++i) {
        if ((load(ref.data(), i) & entry::kPresent) == 0) {
            slots.push_back(i);
        }
    }
    return slots;
}

RootScan scan_for_roots(const PhysView& memory, std::uint64_t reference,
                        const RootScanOptions& options) {
    const auto ref = reference_page(memory, reference);
    // The present kernel-half entries of the reference, most distinctive first:
    // slot 511 maps the kernel image and is present in every kernel.
    std::vector<std::pair<unsigned, std::uint64_t>> wanted;
    for (unsigned i = 511; i >= 256; --i) {
        const auto v = load(ref.data(), i);
        if ((v & entry::kPresent) != 0) {
            wanted.emplace_back(i, v);
        }
    }
    if (wanted.empty()) {
        throw Error(cat("page-table root scan: reference table at ",
                        hex(reference & entry::kAddressMask),
                        " has no present kernel-half entry; it is not a kernel's top-level table"));
    }
    RootScan out;
    out.reference_kernel_entries = static_cast<unsigned>(wanted.size());
    const std::uint64_t step = options.pti ? 2 * kTableBytes : kTableBytes;
    for (const auto& range : memory.layout().ranges()) {
        const auto first = (range.gpa + step - 1) & ~(step - 1);
        for (std::uint64_t gpa = first; gpa + kTableBytes <= range.gpa + range.size; gpa += step) {
            const auto page = memory.page(gpa);
            ++out.pages_scanned;
            bool match = true;
            for (const auto& [slot, value] : wanted) {
                if (load(page.data(), slot) != value) {
                    match = false;
                    break;
                }
            }
            if (!match) {
                continue;
            }
            if (out.roots.size() >= options.max_roots) {
                out.truncated = true;
                return out;
            }
            out.roots.push_back(gpa);
        }
    }
    return out;
}

}  // namespace mvmm::walker
