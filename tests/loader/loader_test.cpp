// load_guest(): what lands where in guest RAM.
#include <cstring>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/loader.hpp>
#include <mvmm/loader/mp_table.hpp>
#include <mvmm/loader/zero_page.hpp>

#include "loader/synthetic_images.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using ::testing::HasSubstr;
namespace bl = boot_layout;
namespace zp = zero_page;

template <typename T>
T peek(const GuestRam& ram, std::uint64_t gpa) {
    const auto v = ram.view().read_as<T>(gpa);
    EXPECT_TRUE(v.has_value()) << gpa;
    return v.value_or(T{});
}

std::string load_error(const GuestRam& ram, const KernelImage& kernel, const BootRequest& req) {
    try {
        (void)load_guest(ram, kernel, req);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(Loader, ElfWithInitrdAndCmdline) {
    test::TempDir dir;
    std::string initrd_data(10000, 'i');
    initrd_data[0] = 'S';
    initrd_data.back() = 'E';
    BootRequest req;
    req.cmdline = "console=ttyS0 panic=-1";
    req.initrd = dir.write("initrd", initrd_data);
    req.vcpus = 2;
    const GuestRam ram(64 * kMiB, "loader-test");
    const auto kernel = KernelImage::parse(test::make_small_elf(), "elf");
    const auto loaded = load_guest(ram, kernel, req);

    // The kernel: text copied, bss zero.
    EXPECT_EQ(peek<std::uint8_t>(ram, 0x200000), 5);
    EXPECT_EQ(peek<std::uint8_t>(ram, 0x200fff), static_cast<std::uint8_t>(4095 * 3 + 5));
    EXPECT_EQ(peek<std::uint64_t>(ram, 0x201000), 0U);
    EXPECT_EQ(loaded.kernel_start, 0x200000U);
    EXPECT_EQ(loaded.kernel_end, 0x211000U);

    // The initrd at the top of RAM, page-aligned.
    EXPECT_EQ(loaded.initrd_gpa, 0x3ffd000U);
    EXPECT_EQ(loaded.initrd_size, 10000U);
    EXPECT_EQ(peek<char>(ram, 0x3ffd000), 'S');
    EXPECT_EQ(peek<char>(ram, 0x3ffd000 + 9999), 'E');

    // The command line, NUL-terminated.
    std::string cmdline(req.cmdline.size() + 1, 'x');
    ASSERT_TRUE(ram.view().read(bl::kCmdline, std::as_writable_bytes(std::span(cmdline))));
    EXPECT_EQ(cmdline, req.cmdline + std::string(1, '\0'));

    // boot_params points at all of it.
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kBootParams + zp::kCmdLinePtr), bl::kCmdline);
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kBootParams + zp::kRamdiskImage), 0x3ffd000U);
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kBootParams + zp::kRamdiskSize), 10000U);
    EXPECT_EQ(peek<std::uint8_t>(ram, bl::kBootParams + zp::kE820Entries), 4U);
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kBootParams + zp::kHeader), zp::kHeaderMagic);
    EXPECT_EQ(loaded.e820.back().addr + loaded.e820.back().size, 64 * kMiB);

    // The MP table, GDT and page tables.
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kMpTable), 0x5f504d5fU);           // "_MP_"
    EXPECT_EQ(peek<std::uint8_t>(ram, bl::kMpTable + 16 + 44 + 20 + 1), 1U);  // CPU 1
    EXPECT_EQ(peek<std::uint64_t>(ram, bl::kGdt + 0x10), 0x00af9b000000ffffU);
    EXPECT_EQ(peek<std::uint64_t>(ram, bl::kPageTables), 0xa003U);

    EXPECT_EQ(loaded.cpu.rip, 0x200010U);
    EXPECT_EQ(loaded.cpu.rsi, bl::kBootParams);
}

TEST(Loader, BzImageRespectsInitrdAddrMax) {
    test::TempDir dir;
    test::BzImageSpec spec;
    spec.initrd_addr_max = 0x37ffffff;
    const auto kernel = KernelImage::parse(test::make_bzimage(spec), "bz");
    const GuestRam ram(2 * kGiB, "loader-test");
    BootRequest req;
    req.initrd = dir.write("initrd", std::string(8192, 'x'));
    const auto loaded = load_guest(ram, kernel, req);
    EXPECT_EQ(loaded.initrd_gpa, 0x38000000U - 8192);
    // The protected-mode kernel at its load address, entered at +0x200.
    EXPECT_EQ(peek<std::uint8_t>(ram, 0x1000000), 1);
    EXPECT_EQ(peek<std::uint8_t>(ram, 0x1000001), 8);
    EXPECT_EQ(loaded.cpu.rip, 0x1000200U);
    // The header in boot_params is the image's.
    EXPECT_EQ(peek<std::uint32_t>(ram, bl::kBootParams + zp::kInitSize), 0x200000U);
    EXPECT_EQ(peek<std::uint8_t>(ram, bl::kBootParams + zp::kTypeOfLoader), 0xffU);
}

TEST(Loader, KernelThatDoesNotFitRam) {
    test::BzImageSpec spec;
    spec.pref_address = 0x4000000;  // 64 MiB
    const auto kernel = KernelImage::parse(test::make_bzimage(spec), "bz");
    const GuestRam ram(64 * kMiB, "loader-test");
    EXPECT_THAT(load_error(ram, kernel, {}),
                HasSubstr("kernel image 'bz': needs guest RAM [0x4000000, 0x4200000)"));
}

TEST(Loader, InitrdThatDoesNotFit) {
    test::TempDir dir;
    const auto kernel = KernelImage::parse(test::make_bzimage(), "bz");
    const GuestRam ram(64 * kMiB, "loader-test");
    BootRequest req;
    req.initrd = dir.write("big", std::string(60 * kMiB, 'x'));
    EXPECT_THAT(load_error(ram, kernel, req), HasSubstr("big': 60.0 MiB do not fit"));
    req.initrd = dir.path() / "absent";
    EXPECT_THAT(load_error(ram, kernel, req), HasSubstr("absent': cannot open"));
    req.initrd = dir.write("empty", "");
    EXPECT_THAT(load_error(ram, kernel, req), HasSubstr("empty': the file is empty"));
}

TEST(Loader, CommandLineLimits) {
    test::BzImageSpec spec;
    spec.cmdline_size = 16;
    const auto kernel = KernelImage::parse(test::make_bzimage(spec), "bz");
    const GuestRam ram(64 * kMiB, "loader-test");
    BootRequest req;
    req.cmdline = std::string(16, 'c');
    EXPECT_NO_THROW((void)load_guest(ram, kernel, req));
    req.cmdline = std::string(17, 'c');
    EXPECT_EQ(load_error(ram, kernel, req),
              "kernel command line: 17 bytes, the kernel takes at most 16 (cmdline_size)");
    req.cmdline = std::string("a\0b", 3);
    EXPECT_EQ(load_error(ram, kernel, req), "kernel command line: contains a NUL byte");
}

TEST(Loader, RejectsSegmentsBelow1MiB) {
    ElfSegment low;
    low.gpa = 0x8000;
    low.bytes.resize(16);
    const auto kernel =
        KernelImage::parse(make_elf_executable(std::vector<ElfSegment>{low}, 0x8000), "low");
    const GuestRam ram(64 * kMiB, "loader-test");
    EXPECT_THAT(load_error(ram, kernel, {}), HasSubstr("below 1 MiB"));
}

}  // namespace
}  // namespace mvmm
