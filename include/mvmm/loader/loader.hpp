// Puts a kernel, its command line and initrd into guest RAM together with
// everything the 64-bit boot protocol needs: boot_params with the e820 map,
// the MP table, a GDT and identity page tables. Returns the CPU state the
// bootstrap vCPU starts with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/loader/e820.hpp>
#include <mvmm/loader/kernel_image.hpp>
#include <mvmm/loader/long_mode.hpp>
#include <mvmm/memory/guest_ram.hpp>

namespace mvmm {

struct BootRequest {
    std::string cmdline;
    std::optional<std::filesystem::path> initrd;
    unsigned vcpus = 1;
};

struct LoadedGuest {
    CpuEntryState cpu;  // for the bootstrap vCPU
    std::uint64_t kernel_start = 0;
    std::uint64_t kernel_end = 0;
    std::uint64_t initrd_gpa = 0;
    std::uint64_t initrd_size = 0;
    std::vector<E820Entry> e820;
};

// Writes everything into `ram`, which must be zeroed (fresh). Throws Error
// naming the kernel, initrd or command line when one does not fit.
LoadedGuest load_guest(const GuestRam& ram, const KernelImage& kernel, const BootRequest& request);

}  // namespace mvmm
