#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/loader/boot_params.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/zero_page.hpp>

namespace mvmm {
namespace {

namespace zp = zero_page;

constexpr std::uint32_t kElfKernelAlignment = 0x1000000;

std::uint32_t low32(std::uint64_t v) {
    return static_cast<std::uint32_t>(v);
}
std::uint32_t high32(std::uint64_t v) {
    return static_cast<std::uint32_t>(v >> 32);
}

}  // namespace

std::vector<std::byte> build_boot_params(const KernelImage& image, const BootParamsSpec& spec) {
    if (spec.e820.size() > zp::kE820MaxEntries) {
        throw Error(cat("boot_params: ", spec.e820.size(), " e820 entries, at most ",
                        zp::kE820MaxEntries, " fit"));
    }
    std::vector<std::byte> page(zp::kSize);
    ByteWriter w(page);

    if (image.format() == KernelFormat::bzimage) {
        w.bytes(zp::kSetupHeader, image.setup_header());
    } else {
        w.u16(zp::kBootFlag, zp::kBootFlagMagic);
        w.u32(zp::kHeader, zp::kHeaderMagic);
        w.u16(zp::kVersion, image.protocol());
        w.u8(zp::kLoadFlags, zp::kLoadedHigh);
        w.u32(zp::kInitrdAddrMax, image.initrd_addr_max());
        w.u32(zp::kKernelAlignment, kElfKernelAlignment);
        w.u32(zp::kCmdlineSize, image.cmdline_max());
    }
    w.u16(zp::kVidMode, 0xffff);
    w.u8(zp::kTypeOfLoader, zp::kLoaderUndefined);

    w.u32(zp::kCmdLinePtr, low32(spec.cmdline_gpa));
    w.u32(zp::kExtCmdLinePtr, high32(spec.cmdline_gpa));
    w.u32(zp::kRamdiskImage, low32(spec.initrd_gpa));
    w.u32(zp::kExtRamdiskImage, high32(spec.initrd_gpa));
    w.u32(zp::kRamdiskSize, low32(spec.initrd_size));
    w.u32(zp::kExtRamdiskSize, high32(spec.initrd_size));

    w.u8(zp::kE820Entries, static_cast<std::uint8_t>(spec.e820.size()));
    for (std::size_t i = 0; i < spec.e820.size(); ++i) {
        const std::size_t at = zp::kE820Table + i * zp::kE820EntrySize;
        w.u64(at, spec.e820[i].addr);
        w.u64(at + 8, spec.e820[i].size);
        w.u32(at + 16, spec.e820[i].type);
    }
    return page;
}

}  // namespace mvmm
