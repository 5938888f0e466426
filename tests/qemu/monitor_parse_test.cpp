// The parsers of QEMU's monitor output, against text captured from Debian's
// QEMU 7.2 (trimmed to the lines that matter and a few that must be skipped).
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/qemu/monitor_parse.hpp>

namespace mvmm {
namespace {

// microvm, 4 GiB: RAM below 3 GiB with the qboot BIOS over 0xf0000, the rest above 4 GiB.
constexpr std::string_view kMicrovmTree = R"(FlatView #0
 AS "I/O", root: io
 Root memory region: io
  0000000000000000-000000000000001f (prio 0, i/o): io
  0000000000000020-0000000000000021 (prio 0, i/o): pic

FlatView #1
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 AS "cpu-smm-0", root: memory
 Root memory region: system
  0000000000000000-00000000000effff (prio 0, ram): mvmm-ram
  00000000000f0000-00000000000fffff (prio 0, ram): pc.bios
  0000000000100000-00000000bfffffff (prio 0, ram): mvmm-ram @0000000000100000
  00000000fea00000-00000000fea00003 (prio 0, i/o): acpi-ged
  00000000fec00000-00000000fec00fff (prio 0, i/o): ioapic
  00000000ffff0000-00000000ffffffff (prio 0, ram): pc.bios
  0000000100000000-000000013fffffff (prio 0, ram): mvmm-ram @00000000c0000000

)";

// q35, 4 GiB: RAM below 2 GiB with ROMs over 0xc0000-0xfffff; a second flat
// view (SMM) repeats the RAM and must not be counted twice.
constexpr std::string_view kQ35Tree = R"(FlatView #0
 AS "memory", root: system
 AS "cpu-memory-0", root: system
 Root memory region: system
  0000000000000000-00000000000bffff (prio 0, ram): mvmm-ram
  00000000000c0000-00000000000dffff (prio 1, rom): pc.rom
  00000000000e0000-00000000000fffff (prio 0, rom): pc.bios @0000000000020000
  0000000000100000-000000007fffffff (prio 0, ram): mvmm-ram @0000000000100000
  00000000fee00000-00000000feefffff (prio 4096, i/o): apic-msi
  0000000100000000-000000017fffffff (prio 0, ram): mvmm-ram @0000000080000000

FlatView #1
 AS "cpu-smm-0", root: memory
 Root memory region: memory
  0000000000000000-00000000000bffff (prio 0, ram): mvmm-ram
  0000000000100000-000000007fffffff (prio 0, ram): mvmm-ram @0000000000100000
)";

TEST(QemuMemoryTree, MicrovmLayoutSkipsBiosAndFollowsTheHole) {
    const auto layout = parse_ram_layout(kMicrovmTree, "mvmm-ram");
    const std::vector<RamRange> expected = {
        {.gpa = 0, .size = 0xf0000, .offset = 0},
        {.gpa = 0x100000, .size = 0xbff00000, .offset = 0x100000},
        {.gpa = 0x100000000, .size = 0x40000000, .offset = 0xc0000000},
    };
    EXPECT_EQ(layout.ranges(), expected);
    EXPECT_EQ(layout.backing_size(), 4 * kGiB);
    EXPECT_FALSE(layout.contains(0xf0000, 1));
}

TEST(QemuMemoryTree, Q35LayoutUsesOnlyTheSystemView) {
    const auto layout = parse_ram_layout(kQ35Tree, "mvmm-ram");
    ASSERT_EQ(layout.ranges().size(), 3U);
    EXPECT_EQ(layout.ranges()[1],
              (RamRange{.gpa = 0x100000, .size = 0x7ff00000, .offset = 0x100000}));
    EXPECT_EQ(layout.ranges()[2],
              (RamRange{.gpa = 0x100000000, .size = 0x80000000, .offset = 0x80000000}));
    EXPECT_EQ(layout.total_bytes(), 0xc0000ULL + 0x7ff00000ULL + 0x80000000ULL);
}

TEST(QemuMemoryTree, MergesAdjacentPieces) {
    constexpr std::string_view tree = R"(FlatView #0
 AS "memory", root: system
  0000000000000000-0000000000000fff (prio 0, ram): r
  0000000000001000-0000000000001fff (prio 0, ram): r @0000000000001000
  0000000000002000-0000000000002fff (prio 0, ram): r @0000000000005000
)";
    const auto layout = parse_ram_layout(tree, "r");
    const std::vector<RamRange> expected = {{.gpa = 0, .size = 0x2000, .offset = 0},
                                            {.gpa = 0x2000, .size = 0x1000, .offset = 0x5000}};
    EXPECT_EQ(layout.ranges(), expected);
}

TEST(QemuMemoryTree, MissingViewOrBackendIsAnError) {
    try {
        (void)parse_ram_layout(kMicrovmTree, "other-ram");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no RAM of backend 'other-ram'"), std::string::npos)
            << e.what();
    }
    try {
        (void)parse_ram_layout("FlatView #0\n AS \"I/O\", root: io\n", "mvmm-ram");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("AS \"memory\""), std::string::npos) << e.what();
    }
    EXPECT_THROW((void)parse_ram_layout("", "mvmm-ram"), Error);
    // Garbage lines inside the view are skipped, not misread.
    constexpr std::string_view odd = R"(FlatView #0
 AS "memory", root: system
  zzzz-0000000000000fff (prio 0, ram): mvmm-ram
  0000000000002000-0000000000001000 (prio 0, ram): mvmm-ram
  0000000000000000-0000000000000fff (prio 0, ram): mvmm-ram @xyz
)";
    EXPECT_THROW((void)parse_ram_layout(odd, "mvmm-ram"), Error);
}

constexpr std::string_view kRegisters = R"(
CPU#0
RAX=0000000000000000 RBX=ffffffff8180a540 RCX=0000000000000046 RDX=0000000000000000
RIP=ffffffff81238588 RFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1
CR0=80050033 CR2=000000001e3306b8 CR3=0000000000653000 CR4=000006b0
DR6=00000000ffff0ff0 DR7=0000000000000400
EFER=0000000000000d01
FCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80

CPU#1
RAX=0000000000000000 RBX=ffff8880001d4000 RCX=0000000000000046 RDX=0000000000000000
CR0=80050033 CR2=0000000000000000 CR3=0000000001816000 CR4=000006b0
EFER=0000000000000d01
)";

TEST(QemuRegisters, ReadsEachVcpuSection) {
    const auto cpu0 = parse_special_registers(kRegisters, 0);
    EXPECT_EQ(cpu0.cr0, 0x80050033U);
    EXPECT_EQ(cpu0.cr2, 0x1e3306b8U);
    EXPECT_EQ(cpu0.cr3, 0x653000U);
    EXPECT_EQ(cpu0.cr4, 0x6b0U);
    EXPECT_EQ(cpu0.efer, 0xd01U);
    const auto cpu1 = parse_special_registers(kRegisters, 1);
    EXPECT_EQ(cpu1.cr3, 0x1816000U);
    EXPECT_EQ(cpu1.cr2, 0U);
}

TEST(QemuRegisters, MissingVcpuOrRegisterIsAnError) {
    try {
        (void)parse_special_registers(kRegisters, 2);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("CPU#2"), std::string::npos) << e.what();
    }
    try {
        (void)parse_special_registers("CPU#0\nCR0=1 CR2=2 CR3=3 CR4=4\nXEFER=5\n", 0);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("no EFER"), std::string::npos) << e.what();
    }
    // "CPU#1" must not match "CPU#10".
    EXPECT_THROW((void)parse_special_registers("CPU#10\nCR0=1 CR2=2 CR3=3 CR4=4\nEFER=5\n", 1),
                 Error);
}

}  // namespace
}  // namespace mvmm
