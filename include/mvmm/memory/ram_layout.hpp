// Where guest RAM sits in guest-physical address space, and where each piece
// lives in its backing (a memfd, QEMU's RAM file, or a saved image).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace mvmm {

inline constexpr std::uint64_t kPageSize = 4096;
inline constexpr std::uint64_t kMiB = 1024ULL * 1024;
inline constexpr std::uint64_t kGiB = 1024ULL * kMiB;
// RAM above this guest-physical address continues at kHighRamBase (the 32-bit hole).
inline constexpr std::uint64_t kLowRamLimit = 3 * kGiB;
inline constexpr std::uint64_t kHighRamBase = 4 * kGiB;

struct RamRange {
    std::uint64_t gpa = 0;     // first guest-physical address
    std::uint64_t size = 0;    // bytes
    std::uint64_t offset = 0;  // offset of gpa in the backing
    friend bool operator==(const RamRange&, const RamRange&) = default;
};

class RamLayout {
  public:
    RamLayout() = default;
    // Throws Error if ranges are empty-sized, overlap (in gpa or backing), or are unsorted.
    explicit RamLayout(std::vector<RamRange> ranges);

    // The layout of the KVM engine: RAM from 0 up to 3 GiB, the rest from 4 GiB,
    // one contiguous backing.
    static RamLayout x86_standard(std::uint64_t ram_bytes);

    [[nodiscard]] const std::vector<RamRange>& ranges() const noexcept { return ranges_; }
    [[nodiscard]] std::uint64_t total_bytes() const noexcept;
    // One past the highest guest-physical address that is RAM.
    [[nodiscard]] std::uint64_t end_gpa() const noexcept;
    // The backing must be at least this large.
    [[nodiscard]] std::uint64_t backing_size() const noexcept;
    // The backing offset of [gpa, gpa+len) if that lies inside one range.
    [[nodiscard]] std::optional<std::uint64_t> offset_of(std::uint64_t gpa,
                                                         std::uint64_t len) const noexcept;
    [[nodiscard]] bool contains(std::uint64_t gpa, std::uint64_t len) const noexcept;

    friend bool operator==(const RamLayout&, const RamLayout&) = default;

  private:
    std::vector<RamRange> ranges_;
};

}  // namespace mvmm
