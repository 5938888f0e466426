// The running guest kernel as seen through guest-physical memory and a
// profile: where its image sits (phys_base), its direct map and vmemmap, how
// a kernel virtual address becomes a physical one, and whether the profile
// belongs to this kernel at all.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <type_traits>

#include <mvmm/introspect/profile.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/x86_paging.hpp>

namespace mvmm {

// The fixed start of the kernel image mapping on x86-64 (__START_KERNEL_map).
inline constexpr std::uint64_t kStartKernelMap = 0xffff'ffff'8000'0000ULL;

struct ProfileCheck {
    bool build_id_checked = false;  // the guest's build-id note matched
    bool banner_checked = false;    // the guest's linux_banner matched
    std::string guest_banner;
    std::string guest_build_id;  // empty if the profile has no notes symbols
};

class GuestKernel {
  public:
    // Finds the kernel image (its phys_base) by looking for the profile's
    // linux_banner and a phys_base variable that holds its own offset, then
    // reads the layout variables. Throws Error if the guest's memory holds no
    // kernel at the profile's addresses, saying what the guest has instead.
    GuestKernel(const PhysView& memory, const Profile& profile, walker::PagingMode mode);

    [[nodiscard]] const Profile& profile() const noexcept { return profile_; }
    [[nodiscard]] const PhysView& memory() const noexcept { return memory_; }
    [[nodiscard]] walker::PagingMode mode() const noexcept { return mode_; }
    [[nodiscard]] std::uint64_t phys_base() const noexcept { return phys_base_; }
    [[nodiscard]] std::uint64_t page_offset() const noexcept { return page_offset_; }
    [[nodiscard]] std::uint64_t vmemmap_base() const noexcept { return vmemmap_base_; }
    // Physical address of init_top_pgt, the kernel's own top-level table.
    [[nodiscard]] std::uint64_t kernel_root() const noexcept { return kernel_root_; }

    // Kernel virtual to guest-physical: the image mapping through phys_base,
    // the direct map through page_offset, anything else through the kernel's
    // page tables.
    [[nodiscard]] std::optional<std::uint64_t> to_phys(std::uint64_t va) const noexcept;
    // Reads kernel virtual memory page by page; false if any byte is unmapped or not RAM.
    bool read(std::uint64_t va, std::span<std::byte> out) const noexcept;
    template <typename T>
    [[nodiscard]] std::optional<T> read_as(std::uint64_t va) const noexcept {
        static_assert(std::is_trivially_copyable_v<T>);
        T value;
        if (!read(va, std::as_writable_bytes(std::span<T, 1>(&value, 1)))) {
            return std::nullopt;
        }
        return value;
    }
    // A NUL-terminated string of at most `max` bytes (shorter if unmapped).
    [[nodiscard]] std::string read_string(std::uint64_t va, std::size_t max) const;

    // Compares the profile with the running guest: the build-id note (if the
    // profile has __start_notes/__stop_notes) and the banner. Throws Error on
    // a mismatch, naming both values.
    [[nodiscard]] ProfileCheck verify() const;

    // The PUD share count kept in the table's struct ptdesc, if the profile
    // has its offset and the vmemmap entry is mapped.
    [[nodiscard]] std::optional<std::int32_t> share_count(std::uint64_t table_phys) const;
    // The page's reference count (0: free), if the profile has the offset.
    [[nodiscard]] std::optional<std::int32_t> page_refcount(std::uint64_t phys) const;

  private:
    [[nodiscard]] std::uint64_t image_to_phys(std::uint64_t va) const noexcept {
        return va - kStartKernelMap + phys_base_;
    }
    [[nodiscard]] std::optional<std::string> guest_build_id() const;

    const PhysView& memory_;
    Profile profile_;
    walker::PagingMode mode_;
    std::uint64_t phys_base_ = 0;
    std::uint64_t page_offset_ = 0;
    std::uint64_t vmemmap_base_ = 0;
    std::uint64_t kernel_root_ = 0;
};

// The first "Linux version ..." line found in guest RAM (for messages), or "".
std::string find_banner_in_ram(const PhysView& memory);

}  // namespace mvmm
