// A read-only, bounds-checked view of guest-physical memory.
//
// Every engine gives one (KVM: over its memfd; QEMU: over its RAM file), and
// saved images give one too, so the walker and introspection code never know
// where the bytes come from. A read outside RAM fails; it never touches host
// memory outside the backing.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <span>
#include <type_traits>

#include <mvmm/common/mapping.hpp>
#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

class PhysView {
  public:
    PhysView() = default;
    // `backing` must be at least layout.backing_size() bytes; throws Error otherwise.
    PhysView(std::span<const std::byte> backing, RamLayout layout);

    [[nodiscard]] const RamLayout& layout() const noexcept { return layout_; }
    [[nodiscard]] std::span<const std::byte> backing() const noexcept { return backing_; }

    // Copies out.size() bytes starting at gpa, across ranges if they are
    // adjacent. Returns false (and leaves `out` unspecified) if any byte is not RAM.
    bool read(std::uint64_t gpa, std::span<std::byte> out) const noexcept;

    template <typename T>
    [[nodiscard]] std::optional<T> read_as(std::uint64_t gpa) const noexcept {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        if (!read(gpa, std::as_writable_bytes(std::span<T, 1>(&value, 1)))) {
            return std::nullopt;
        }
        return value;
    }

    // The bytes of [gpa, gpa+len) if they lie inside one RAM range, else empty.
    // The span aliases live guest memory: the guest may change it while you read.
    [[nodiscard]] std::span<const std::byte> span(std::uint64_t gpa,
                                                  std::uint64_t len) const noexcept;
    // The 4 KiB page at gpa (rounded down), or empty if it is not RAM.
    [[nodiscard]] std::span<const std::byte> page(std::uint64_t gpa) const noexcept;

  private:
    std::span<const std::byte> backing_;
    RamLayout layout_;
};

// A PhysView that owns a read-only shared mapping of a file: QEMU's
// memory-backend-file, or a raw dump whose layout is given.
class MappedPhysMemory {
  public:
    // Throws Error naming the path if it cannot be opened or is smaller than the layout needs.
    MappedPhysMemory(const std::filesystem::path& path, RamLayout layout);
    [[nodiscard]] const PhysView& view() const noexcept { return view_; }

  private:
    Mapping mapping_;
    PhysView view_;
};

}  // namespace mvmm
