// Feeds arbitrary bytes to the kernel loader as a kernel image. A malformed
// image must end in mvmm::Error; anything else (a crash, a sanitizer report,
// another exception type) is a bug. Images that parse are also loaded into a
// small guest RAM, which checks that the parser's promises hold.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <mvmm/common/error.hpp>
#include <mvmm/loader/kernel_image.hpp>
#include <mvmm/loader/loader.hpp>
#include <mvmm/memory/guest_ram.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static const mvmm::GuestRam ram(64 * mvmm::kMiB, "fuzz-loader");
    const auto* first = reinterpret_cast<const std::byte*>(data);
    try {
        const auto image =
            mvmm::KernelImage::parse(std::vector<std::byte>(first, first + size), "fuzz");
        mvmm::BootRequest request;
        request.cmdline = "console=ttyS0";
        request.vcpus = 2;
        (void)mvmm::load_guest(ram, image, request);
    } catch (const mvmm::Error&) {
        // A clear error is the expected outcome for a bad image.
    }
    return 0;
}
