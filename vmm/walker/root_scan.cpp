#include <algorithm>
#include <cstring>

#include <sys/mman.h>

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

namespace {

// Which pages of the backing the host holds, asked a chunk at a time. Every
// page counts as resident when not asked to look, or when mincore fails (a
// backing that is not a mapping, e.g. in tests).
class Residency {
  public:
    Residency(const PhysView& memory, bool enabled) : memory_(memory), enabled_(enabled) {}

    bool resident(const RamRange& range, std::uint64_t gpa) {
        if (!enabled_) {
            return true;
        }
        if (gpa < chunk_gpa_ || gpa >= chunk_gpa_ + chunk_bytes_) {
            load(range, gpa);
        }
        if (!known_) {
            return true;
        }
        return (flags_[(gpa - chunk_gpa_) / kTableBytes] & 1U) != 0;
    }

  private:
    static constexpr std::uint64_t kChunk = std::uint64_t{2} << 20;

    void load(const RamRange& range, std::uint64_t gpa) {
        chunk_gpa_ = gpa & ~(kChunk - 1);
        chunk_gpa_ = std::max(chunk_gpa_, range.gpa & ~(kTableBytes - 1));
        chunk_bytes_ =
            std::min(kChunk - (chunk_gpa_ & (kChunk - 1)), range.gpa + range.size - chunk_gpa_);
        flags_.assign(chunk_bytes_ / kTableBytes + 1, 0);
        const auto* host = memory_.backing().data() + range.offset + (chunk_gpa_ - range.gpa);
        // The backing is page aligned (a mapping) and so is every range.
        known_ = reinterpret_cast<std::uintptr_t>(host) % kTableBytes == 0 &&
                 ::mincore(const_cast<std::byte*>(host), chunk_bytes_,
                           reinterpret_cast<unsigned char*>(flags_.data())) == 0;
    }

    const PhysView& memory_;
    bool enabled_;
    std::uint64_t chunk_gpa_ = 0;
    std::uint64_t chunk_bytes_ = 0;
    bool known_ = false;
    std::vector<std::uint8_t> flags_;
};

}  // namespace

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
    Residency residency(memory, options.resident_only);
    for (const auto& range : memory.layout().ranges()) {
        const auto first = (range.gpa + step - 1) & ~(step - 1);
        for (std::uint64_t gpa = first; gpa + kTableBytes <= range.gpa + range.size; gpa += step) {
            if (!residency.resident(range, gpa)) {
                ++out.pages_skipped;
                continue;
            }
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
