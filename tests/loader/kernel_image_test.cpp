// Kernel image parsing: synthetic bzImages and ELFs, every kind of damage,
// and the real images of the guest-kernel build when they are there.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include <elf.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/loader/kernel_image.hpp>
#include <mvmm/loader/zero_page.hpp>

#include "loader/synthetic_images.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using ::testing::HasSubstr;
namespace zp = zero_page;

std::string parse_error(std::vector<std::byte> bytes, const std::string& name = "k") {
    try {
        (void)KernelImage::parse(std::move(bytes), name);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

template <typename T>
void poke(std::vector<std::byte>& bytes, std::size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof value);
}

TEST(KernelImage, ParsesARelocatableBzImageAtItsPreferredAddress) {
    const auto bytes = test::make_bzimage();
    const auto image = KernelImage::parse(bytes, "bz");
    EXPECT_EQ(image.format(), KernelFormat::bzimage);
    EXPECT_EQ(image.protocol(), 0x020f);
    ASSERT_EQ(image.segments().size(), 1U);
    const auto& seg = image.segments()[0];
    EXPECT_EQ(seg.gpa, 0x1000000U);
    EXPECT_EQ(seg.file_offset, 5U * 512);
    EXPECT_EQ(seg.file_size, 0x4000U);
    EXPECT_EQ(seg.mem_size, 0x4000U);
    EXPECT_EQ(image.entry(), 0x1000200U);
    EXPECT_EQ(image.window_start(), 0x1000000U);
    EXPECT_EQ(image.window_end(), 0x1200000U);  // + init_size
    EXPECT_EQ(image.initrd_addr_max(), 0x7fffffffU);
    EXPECT_EQ(image.cmdline_max(), 2047U);
    // The header is copied from 0x1f1 to 0x202 + the jump byte.
    ASSERT_EQ(image.setup_header().size(), 0x26cU - 0x1f1U);
    EXPECT_TRUE(std::equal(image.setup_header().begin(), image.setup_header().end(),
                           bytes.begin() + 0x1f1));
}

TEST(KernelImage, AlignsTheLoadAddressUpToKernelAlignment) {
    test::BzImageSpec spec;
    spec.pref_address = 0x1100000;
    spec.kernel_alignment = 0x1000000;
    const auto image = KernelImage::parse(test::make_bzimage(spec), "bz");
    EXPECT_EQ(image.segments()[0].gpa, 0x2000000U);
    EXPECT_EQ(image.entry(), 0x2000200U);
}

TEST(KernelImage, ZeroSetupSectsMeansFour) {
    test::BzImageSpec spec;
    spec.setup_sects = 4;
    auto bytes = test::make_bzimage(spec);
    bytes[zp::kSetupSects] = std::byte{0};
    const auto image = KernelImage::parse(bytes, "bz");
    EXPECT_EQ(image.segments()[0].file_offset, 5U * 512);
}

TEST(KernelImage, NonRelocatableLoadsAtPrefAddress) {
    test::BzImageSpec spec;
    spec.relocatable = 0;
    spec.pref_address = 0x1234000;
    const auto image = KernelImage::parse(test::make_bzimage(spec), "bz");
    EXPECT_EQ(image.segments()[0].gpa, 0x1234000U);
}

TEST(KernelImage, OldProtocolWithoutPrefAddressLoadsAt1MiB) {
    test::BzImageSpec spec;
    spec.version = 0x0206;
    const auto image = KernelImage::parse(test::make_bzimage(spec), "bz");
    EXPECT_EQ(image.segments()[0].gpa, 0x200000U);  // 1 MiB aligned up to 2 MiB
    EXPECT_EQ(image.window_end(), 0x200000U + 4 * 0x4000U);
}

TEST(KernelImage, RejectsTooOldProtocol) {
    test::BzImageSpec spec;
    spec.version = 0x0205;
    EXPECT_EQ(parse_error(test::make_bzimage(spec)),
              "kernel image 'k': boot protocol 2.05 is too old (need 2.06 or later)");
}

TEST(KernelImage, Rejects32BitKernel) {
    test::BzImageSpec spec;
    spec.xloadflags = 0;
    EXPECT_THAT(parse_error(test::make_bzimage(spec)), HasSubstr("not a 64-bit kernel"));
}

TEST(KernelImage, RejectsZImage) {
    test::BzImageSpec spec;
    spec.loadflags = 0;
    EXPECT_THAT(parse_error(test::make_bzimage(spec)), HasSubstr("no LOADED_HIGH"));
}

TEST(KernelImage, RejectsBadBootFlag) {
    auto bytes = test::make_bzimage();
    poke<std::uint16_t>(bytes, zp::kBootFlag, 0x1234);
    EXPECT_EQ(parse_error(bytes),
              "kernel image 'k': not a bzImage (boot_flag at 0x1fe is 0x1234, expected 0xaa55)");
}

TEST(KernelImage, RejectsShortHeader) {
    test::BzImageSpec spec;
    spec.header_end_jump = 0x10;
    EXPECT_THAT(parse_error(test::make_bzimage(spec)), HasSubstr("the setup header ends at 0x212"));
}

TEST(KernelImage, RejectsZeroCmdlineSize) {
    test::BzImageSpec spec;
    spec.cmdline_size = 0;
    EXPECT_THAT(parse_error(test::make_bzimage(spec)), HasSubstr("cmdline_size"));
}

TEST(KernelImage, RejectsAbsurdPrefAddress) {
    test::BzImageSpec spec;
    spec.pref_address = 0xffffffffffff0000ULL;
    EXPECT_THAT(parse_error(test::make_bzimage(spec)), HasSubstr("is not a physical address"));
}

TEST(KernelImage, RejectsGarbage) {
    std::vector<std::byte> bytes(1000, std::byte{0x41});
    EXPECT_EQ(parse_error(bytes),
              "kernel image 'k': neither an ELF vmlinux (no ELF magic at 0) nor a bzImage (no "
              "HdrS magic at 0x202)");
    EXPECT_EQ(parse_error({}), "kernel image 'k': the file is empty");
}

TEST(KernelImage, EveryTruncatedBzImageIsAnError) {
    const auto bytes = test::make_bzimage();
    for (std::size_t size = 0; size < bytes.size(); size += (size < 0x300 ? 1 : 61)) {
        std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<long>(size));
        const auto message = parse_error(cut, "cut");
        EXPECT_THAT(message, HasSubstr("kernel image 'cut': ")) << "size " << size;
    }
    // Cut inside the protected-mode part: syssize tells.
    std::vector<std::byte> cut(bytes.begin(), bytes.end() - 16);
    EXPECT_EQ(parse_error(cut),
              "kernel image 'k': truncated: the protected-mode kernel has 16368 bytes, the setup "
              "header says 16384 (syssize)");
}

TEST(KernelImage, ParsesAnElf) {
    const auto image = KernelImage::parse(test::make_small_elf(), "elf");
    EXPECT_EQ(image.format(), KernelFormat::elf);
    ASSERT_EQ(image.segments().size(), 2U);
    EXPECT_EQ(image.segments()[0].gpa, 0x200000U);
    EXPECT_EQ(image.segments()[0].file_size, 4096U);
    EXPECT_EQ(image.segments()[1].gpa, 0x201000U);
    EXPECT_EQ(image.segments()[1].file_size, 0U);
    EXPECT_EQ(image.segments()[1].mem_size, 0x10000U);
    EXPECT_EQ(image.entry(), 0x200010U);
    EXPECT_EQ(image.window_start(), 0x200000U);
    EXPECT_EQ(image.window_end(), 0x211000U);
    EXPECT_TRUE(image.setup_header().empty());
    EXPECT_EQ(image.cmdline_max(), 2047U);
}

TEST(KernelImage, TranslatesAVirtualElfEntry) {
    ElfSegment text;
    text.gpa = 0x1000000;
    text.bytes.resize(64);
    auto bytes = make_elf_executable(std::vector<ElfSegment>{text}, 0x1000000);
    // Make the segment's virtual address a kernel-style one, and the entry too.
    poke<std::uint64_t>(bytes, 64 + 16, 0xffffffff81000000ULL);
    poke<std::uint64_t>(bytes, 24, 0xffffffff81000020ULL);
    const auto image = KernelImage::parse(bytes, "elf");
    EXPECT_EQ(image.entry(), 0x1000020U);
}

TEST(KernelImage, RejectsBadElves) {
    const auto good = test::make_small_elf();
    auto bytes = good;
    bytes[EI_CLASS] = std::byte{1};
    EXPECT_EQ(parse_error(bytes), "kernel image 'k': not a 64-bit ELF (EI_CLASS is 1)");
    bytes = good;
    poke<std::uint16_t>(bytes, 18, 3);
    EXPECT_EQ(parse_error(bytes), "kernel image 'k': ELF machine 3 is not x86-64");
    bytes = good;
    poke<std::uint16_t>(bytes, 16, 3);
    EXPECT_THAT(parse_error(bytes), HasSubstr("is not an executable"));
    bytes = good;
    poke<std::uint64_t>(bytes, 24, 0x900000);
    EXPECT_EQ(parse_error(bytes),
              "kernel image 'k': the ELF entry point 0x900000 is not inside any PT_LOAD segment");
    bytes = good;
    poke<std::uint64_t>(bytes, 32, 0xfffffffffff0ULL);  // e_phoff
    EXPECT_THAT(parse_error(bytes), HasSubstr("truncated: the program headers"));
    bytes = good;
    poke<std::uint64_t>(bytes, 64 + 40, 16);  // p_memsz < p_filesz
    EXPECT_THAT(parse_error(bytes), HasSubstr("PT_LOAD segment 0 has p_filesz 0x1000 > p_memsz"));
    bytes = good;
    poke<std::uint64_t>(bytes, 64 + 24, 0xfffffffffffff000ULL);  // p_paddr
    EXPECT_THAT(parse_error(bytes), HasSubstr("is beyond any guest RAM"));
    bytes = good;
    poke<std::uint16_t>(bytes, 56, 0);
    EXPECT_EQ(parse_error(bytes), "kernel image 'k': the ELF has no program headers");
    bytes = good;
    poke<std::uint16_t>(bytes, 54, 32);
    EXPECT_THAT(parse_error(bytes), HasSubstr("e_phentsize is 32"));
}

TEST(KernelImage, EveryTruncatedElfIsAnError) {
    const auto bytes = test::make_small_elf();
    for (std::size_t size = 0; size < bytes.size(); size += (size < 200 ? 1 : 97)) {
        std::vector<std::byte> cut(bytes.begin(), bytes.begin() + static_cast<long>(size));
        EXPECT_THAT(parse_error(cut, "cut"), HasSubstr("kernel image 'cut': ")) << size;
    }
}

TEST(KernelImage, LoadNamesTheFile) {
    test::TempDir dir;
    try {
        (void)KernelImage::load(dir.path() / "missing");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("missing': cannot open: No such file or directory"));
    }
    try {
        (void)KernelImage::load(dir.path());
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("not a regular file"));
    }
    const auto bz = test::make_bzimage();
    const auto file =
        dir.write("bzImage", std::string(reinterpret_cast<const char*>(bz.data()), bz.size()));
    EXPECT_EQ(KernelImage::load(file).format(), KernelFormat::bzimage);
}

// The images of the guest-kernel build (out/kernel), when they have been built.
std::filesystem::path built_kernel(const char* name) {
    return std::filesystem::path(MVMM_SOURCE_DIR) / "out" / "kernel" / name;
}

TEST(KernelImage, RealBzImage) {
    const auto path = built_kernel("bzImage");
    if (!std::filesystem::exists(path)) {
        GTEST_SKIP() << path
                     << " is not built yet (scripts build the guest kernel into out/kernel)";
    }
    const auto image = KernelImage::load(path);
    EXPECT_EQ(image.format(), KernelFormat::bzimage);
    EXPECT_GE(image.protocol(), 0x020f);  // Linux 6.12 speaks 2.15
    EXPECT_EQ(image.entry(), image.segments()[0].gpa + 0x200);
    EXPECT_GE(image.window_end() - image.window_start(), image.segments()[0].file_size);
    EXPECT_GE(image.cmdline_max(), 2047U);
    EXPECT_EQ(image.segments()[0].gpa % 0x200000, 0U);
}

TEST(KernelImage, RealVmlinux) {
    const auto path = built_kernel("vmlinux");
    if (!std::filesystem::exists(path)) {
        GTEST_SKIP() << path
                     << " is not built yet (scripts build the guest kernel into out/kernel)";
    }
    const auto image = KernelImage::load(path);
    EXPECT_EQ(image.format(), KernelFormat::elf);
    EXPECT_GE(image.segments().size(), 2U);
    EXPECT_GE(image.window_start(), 0x100000U);
    EXPECT_GE(image.entry(), image.window_start());  // startup_64 opens the first segment
    EXPECT_LT(image.entry(), image.window_end());
    // Corrupting the real image's header gives errors, not crashes.
    auto bytes = std::vector<std::byte>(image.bytes().begin(), image.bytes().end());
    auto cut = std::vector<std::byte>(bytes.begin(), bytes.begin() + 4096);
    EXPECT_THROW((void)KernelImage::parse(cut, "cut"), Error);
}

}  // namespace
}  // namespace mvmm
