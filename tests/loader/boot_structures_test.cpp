// The boot-structure builders, pinned byte for byte: e820, boot_params, the
// MP table, the GDT, the identity page tables and the entry CPU state.
#include <numeric>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/boot_params.hpp>
#include <mvmm/loader/e820.hpp>
#include <mvmm/loader/long_mode.hpp>
#include <mvmm/loader/mp_table.hpp>

#include "loader/synthetic_images.hpp"

namespace mvmm {
namespace {

using test::nonzero_dump;

unsigned byte_sum(std::span<const std::byte> bytes) {
    unsigned sum = 0;
    for (auto b : bytes) {
        sum += std::to_integer<unsigned>(b);
    }
    return sum & 0xff;
}

TEST(E820, SmallRam) {
    const auto map = build_e820_map(RamLayout::x86_standard(512 * kMiB));
    const std::vector<E820Entry> expected = {
        {0x0, 0x9fc00, 1},
        {0x9fc00, 0x400, 2},
        {0xf0000, 0x10000, 2},
        {0x100000, 512 * kMiB - 0x100000, 1},
    };
    EXPECT_EQ(map, expected);
}

TEST(E820, RamAbove3GiBLeavesTheHole) {
    const auto map = build_e820_map(RamLayout::x86_standard(6 * kGiB));
    ASSERT_EQ(map.size(), 5U);
    EXPECT_EQ(map[3], (E820Entry{0x100000, 3 * kGiB - 0x100000, 1}));
    EXPECT_EQ(map[4], (E820Entry{4 * kGiB, 3 * kGiB, 1}));
}

TEST(E820, ExactlyThreeGiBHasNoHighRange) {
    const auto map = build_e820_map(RamLayout::x86_standard(3 * kGiB));
    ASSERT_EQ(map.size(), 4U);
    EXPECT_EQ(map[3].addr + map[3].size, 3 * kGiB);
}

TEST(E820, RejectsTinyRam) {
    EXPECT_THROW((void)build_e820_map(RamLayout::x86_standard(1 * kMiB)), Error);
}

BootParamsSpec spec_for(std::uint64_t cmdline, std::uint64_t initrd, std::uint64_t initrd_size) {
    BootParamsSpec spec;
    spec.cmdline_gpa = cmdline;
    spec.cmdline_size = 27;
    spec.initrd_gpa = initrd;
    spec.initrd_size = initrd_size;
    spec.e820 = build_e820_map(RamLayout::x86_standard(512 * kMiB));
    return spec;
}

// The e820 table as every pinned boot_params below has it.
constexpr const char* kE820Dump =
    "02d9: fc 09\n"
    "02e0: 01\n"
    "02e5: fc 09\n"
    "02ed: 04\n"
    "02f4: 02\n"
    "02fa: 0f\n"
    "0302: 01\n"
    "0308: 02\n"
    "030e: 10\n"
    "0316: f0 1f\n"
    "031c: 01\n";

TEST(BootParams, BzImagePinned) {
    const auto image = KernelImage::parse(test::make_bzimage(), "bz");
    const auto page = build_boot_params(image, spec_for(0x20000, 0x7f00000, 0x100000));
    ASSERT_EQ(page.size(), 4096U);
    EXPECT_EQ(nonzero_dump(page),
              std::string("01e8: 04\n"              // e820_entries
                          "01f1: 04 00 00 00 04\n"  // setup_sects, syssize
                          "01fa: ff ff 00 00 55 aa eb 6a 48 64 72 53 0f 02\n"  // vid_mode..version
                          "0210: ff 01\n"                       // type_of_loader, loadflags
                          "0216: 10 00 00 00 f0 07 00 00 10\n"  // code32_start, ramdisk
                          "022a: 02 00 ff ff ff 7f 00 00 20 00 01 15 01 00 ff 07\n"  // cmdline..
                          "025b: 01\n"                                               // pref_address
                          "0262: 20\n"                                               // init_size
                          ) +
                  kE820Dump);
}

TEST(BootParams, ElfPinnedWithHighPointers) {
    const auto image = KernelImage::parse(test::make_small_elf(), "elf");
    const auto page = build_boot_params(image, spec_for(0x200000000, 0x123456000, 0x100000));
    EXPECT_EQ(nonzero_dump(page),
              std::string("00c0: 01\n"  // ext_ramdisk_image
                          "00c8: 02\n"  // ext_cmd_line_ptr
                          "01e8: 04\n"
                          "01fa: ff ff 00 00 55 aa 00 00 48 64 72 53 0f 02\n"
                          "0210: ff 01\n"
                          "0219: 60 45 23 00 00 10\n"        // ramdisk_image, size
                          "022c: ff ff ff 7f 00 00 00 01\n"  // initrd_addr_max, alignment
                          "0238: ff 07\n") +                 // cmdline_size
                  kE820Dump);
}

TEST(BootParams, RejectsTooManyE820Entries) {
    const auto image = KernelImage::parse(test::make_small_elf(), "elf");
    BootParamsSpec spec;
    spec.e820.resize(129);
    EXPECT_THROW((void)build_boot_params(image, spec), Error);
}

TEST(MpTable, TwoCpusPinned) {
    const auto table = build_mp_table(0xf0000, 2);
    ASSERT_EQ(table.size(), 16U + 244U);
    EXPECT_EQ(nonzero_dump(table),
              // floating pointer: "_MP_", table at 0xf0010, 1 paragraph, rev 1.4, checksum
              "0000: 5f 4d 50 5f 10 00 0f 00 01 04 81\n"
              // "PCMP", 244 bytes, rev 1.4, checksum, OEM and product ids
              "0010: 50 43 4d 50 f4 00 04 2b 4d 53 48 41 52 45 20 20 4d 53 48 41 52 45 2d 56 4d "
              "4d 20 20\n"
              "0032: 16 00 00 00 e0 fe\n"  // 22 entries, local APIC at 0xfee00000
              // CPU 0: APIC id 0, version 0x14, enabled + bootstrap, signature, features
              "003e: 14 03 00 06 00 00 01 02\n"
              // CPU 1: APIC id 1, enabled
              "0051: 01 14 01 00 06 00 00 01 02\n"
              // ISA bus 0; I/O APIC id 2, version 0x11, enabled, at 0xfec00000
              "0064: 01 00 49 53 41 20 20 20 02 02 11 01 00 00 c0 fe 03\n"
              // ISA IRQ n -> I/O APIC 2 pin n
              "007a: 02 00 03\n"
              "0081: 01 02 01 03\n"
              "0089: 02 02 02 03\n"
              "0091: 03 02 03 03\n"
              "0099: 04 02 04 03\n"
              "00a1: 05 02 05 03\n"
              "00a9: 06 02 06 03\n"
              "00b1: 07 02 07 03\n"
              "00b9: 08 02 08 03\n"
              "00c1: 09 02 09 03\n"
              "00c9: 0a 02 0a 03\n"
              "00d1: 0b 02 0b 03\n"
              "00d9: 0c 02 0c 03\n"
              "00e1: 0d 02 0d 03\n"
              "00e9: 0e 02 0e 03\n"
              // IRQ 15; then ExtINT -> LINT0 and NMI -> LINT1 of every local APIC
              "00f1: 0f 02 0f 04 03\n"
              "00fa: ff 00 04 01\n"
              "0102: ff 01\n");
}

TEST(MpTable, ChecksumsHoldForEveryCpuCount) {
    for (unsigned cpus : {1U, 2U, 3U, 8U, 64U, 254U}) {
        const auto table = build_mp_table(0xf0000, cpus);
        const std::span<const std::byte> all(table);
        EXPECT_EQ(byte_sum(all.first(16)), 0U) << cpus;
        EXPECT_EQ(byte_sum(all.subspan(16)), 0U) << cpus;
        EXPECT_EQ(table.size(), 16 + 44 + 20 * cpus + 8 * (1 + 1 + 16 + 2)) << cpus;
        // Processor entries: ids in order, only the first is the bootstrap CPU.
        for (unsigned cpu = 0; cpu < cpus; ++cpu) {
            const auto at = 16 + 44 + 20 * cpu;
            EXPECT_EQ(std::to_integer<unsigned>(table[at + 1]), cpu);
            EXPECT_EQ(std::to_integer<unsigned>(table[at + 3]), cpu == 0 ? 3U : 1U);
        }
    }
}

TEST(MpTable, RejectsCpuCountsOutsideTheSpec) {
    EXPECT_THROW((void)build_mp_table(0xf0000, 0), Error);
    EXPECT_THROW((void)build_mp_table(0xf0000, 255), Error);
    EXPECT_THROW((void)build_mp_table(0xffffff00, 8), Error);
}

TEST(LongMode, GdtPinned) {
    const auto gdt = build_boot_gdt();
    EXPECT_EQ(gdt, (std::vector<std::uint64_t>{0, 0, 0x00af9b000000ffff, 0x00cf93000000ffff,
                                               0x00008b0000000067, 0}));
    EXPECT_EQ(nonzero_dump(gdt_bytes(gdt)),
              "0010: ff ff 00 00 00 9b af 00 ff ff 00 00 00 93 cf 00 67\n"
              "0025: 8b\n");
}

TEST(LongMode, DescriptorRoundTrip) {
    const auto d = make_segment_descriptor(0x12345678, 0xabcde, 0xf3, 0x4);
    const auto s = segment_from_descriptor(d, 0x2b);
    EXPECT_EQ(s.base, 0x12345678U);
    EXPECT_EQ(s.limit, 0xabcdeU);
    EXPECT_EQ(s.selector, 0x2b);
    EXPECT_EQ(s.type, 3);
    EXPECT_TRUE(s.s);
    EXPECT_EQ(s.dpl, 3);
    EXPECT_TRUE(s.present);
    EXPECT_TRUE(s.db);
    EXPECT_FALSE(s.l);
    EXPECT_FALSE(s.g);
}

TEST(LongMode, IdentityPageTablesPinned) {
    const auto pt = build_identity_page_tables(0x9000, 4 * kGiB);
    ASSERT_EQ(pt.size(), 6U * 4096);
    const auto entry = [&](std::size_t table, std::size_t index) {
        std::uint64_t v = 0;
        std::memcpy(&v, pt.data() + table * 4096 + index * 8, 8);
        return v;
    };
    EXPECT_EQ(entry(0, 0), 0xa003U);  // PML4[0] -> PDPT at 0xa000, present, writable
    for (std::size_t i = 1; i < 512; ++i) {
        ASSERT_EQ(entry(0, i), 0U);
    }
    for (std::size_t g = 0; g < 4; ++g) {
        EXPECT_EQ(entry(1, g), 0xb003U + g * 0x1000);  // PDPT[g] -> PD g
        for (std::size_t i = 0; i < 512; ++i) {
            // 2 MiB pages: present, writable, PS; supervisor only.
            ASSERT_EQ(entry(2 + g, i), (g << 30) + (i << 21) + 0x83) << g << " " << i;
        }
    }
    EXPECT_EQ(entry(1, 4), 0U);
    EXPECT_THROW((void)build_identity_page_tables(0x9000, 0), Error);
    EXPECT_THROW((void)build_identity_page_tables(0x9001, kGiB), Error);
    EXPECT_THROW((void)build_identity_page_tables(0x9000, 513 * kGiB), Error);
}

TEST(LongMode, EntryStatePinned) {
    const auto s = long_mode_entry_state(0x1000200, 0x7000);
    EXPECT_EQ(s.rip, 0x1000200U);
    EXPECT_EQ(s.rsi, 0x7000U);
    EXPECT_EQ(s.rsp, 0x9000U);
    EXPECT_EQ(s.rflags, 0x2U);      // interrupts off
    EXPECT_EQ(s.cr0, 0x80010033U);  // PG WP NE ET MP PE
    EXPECT_EQ(s.cr3, 0x9000U);
    EXPECT_EQ(s.cr4, 0x20U);    // PAE
    EXPECT_EQ(s.efer, 0x500U);  // LMA LME
    EXPECT_EQ(s.gdt_base, 0x500U);
    EXPECT_EQ(s.gdt_limit, 47);
    EXPECT_EQ(s.idt_limit, 0);
    SegmentState cs;
    cs.selector = 0x10;
    cs.limit = 0xffffffff;
    cs.type = 0xb;
    cs.present = true;
    cs.s = true;
    cs.l = true;
    cs.g = true;
    EXPECT_EQ(s.cs, cs);
    SegmentState ds = cs;
    ds.selector = 0x18;
    ds.type = 0x3;
    ds.l = false;
    ds.db = true;
    EXPECT_EQ(s.ds, ds);
    SegmentState tr;
    tr.selector = 0x20;
    tr.limit = 0x67;
    tr.type = 0xb;
    tr.present = true;
    EXPECT_EQ(s.tr, tr);
}

}  // namespace
}  // namespace mvmm
