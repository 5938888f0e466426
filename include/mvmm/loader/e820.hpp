// The e820 memory map the guest kernel gets in boot_params: the RAM of a
// RamLayout, minus the legacy PC areas below 1 MiB that the loader reserves.
#pragma once

#include <cstdint>
#include <vector>

#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

struct E820Entry {
    std::uint64_t addr = 0;
    std::uint64_t size = 0;
    std::uint32_t type = 0;  // 1 = RAM, 2 = reserved
    friend bool operator==(const E820Entry&, const E820Entry&) = default;
};

// For x86_standard layouts: RAM [0, 0x9fc00), reserved [0x9fc00, 0xa0000)
// and [0xf0000, 0x100000) (the MP table lives there), RAM from 1 MiB to the end
// of low RAM, and RAM from 4 GiB for the rest. Throws Error if the layout has
// less than 2 MiB of RAM from 0 or more ranges than boot_params can hold.
std::vector<E820Entry> build_e820_map(const RamLayout& layout);

}  // namespace mvmm
