// Guest RAM owned by the VMM: a memfd (so other tools can map it), mapped
// read-write into the VMM and laid out with RamLayout::x86_standard.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include <mvmm/common/mapping.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

class GuestRam {
  public:
    // Throws Error if the memfd cannot be made or mapped.
    GuestRam(std::uint64_t bytes, const std::string& name);

    [[nodiscard]] int fd() const noexcept { return fd_.get(); }
    [[nodiscard]] const RamLayout& layout() const noexcept { return view_.layout(); }
    [[nodiscard]] const PhysView& view() const noexcept { return view_; }

    // Host address of [gpa, gpa+len); throws Error if that is not inside one RAM range.
    [[nodiscard]] std::byte* host_address(std::uint64_t gpa, std::uint64_t len) const;
    // Bounds-checked copy into guest RAM; throws Error naming the range.
    void write(std::uint64_t gpa, std::span<const std::byte> data) const;
    // The host mapping of one RAM range (for KVM_SET_USER_MEMORY_REGION).
    [[nodiscard]] std::byte* range_host_base(const RamRange& range) const noexcept {
        return mapping_.data() + range.offset;
    }

  private:
    UniqueFd fd_;
    Mapping mapping_;
    PhysView view_;
};

}  // namespace mvmm
