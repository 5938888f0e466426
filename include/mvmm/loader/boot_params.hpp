// boot_params (the "zero page") for the 64-bit boot protocol.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include <mvmm/loader/e820.hpp>
#include <mvmm/loader/kernel_image.hpp>

namespace mvmm {

struct BootParamsSpec {
    std::uint64_t cmdline_gpa = 0;
    std::uint32_t cmdline_size = 0;  // without the terminating NUL
    std::uint64_t initrd_gpa = 0;    // 0 with initrd_size 0: no initrd
    std::uint64_t initrd_size = 0;
    std::vector<E820Entry> e820;
};

// The 4096 bytes of boot_params. For a bzImage the setup header is the image's,
// for an ELF one the loader makes (boot_flag, HdrS, version, cmdline_size,
// initrd_addr_max). Then: type_of_loader 0xff, vid_mode 0xffff, the command
// line and initrd pointers (with their ext_ high halves) and the e820 table.
// Throws Error if the e820 map has more than 128 entries.
std::vector<std::byte> build_boot_params(const KernelImage& image, const BootParamsSpec& spec);

}  // namespace mvmm
