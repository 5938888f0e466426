#include <array>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/memory/guest_ram.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/memory/ram_layout.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

TEST(RamLayout, SmallRamIsOneRangeFromZero) {
    const auto layout = RamLayout::x86_standard(512 * kMiB);
    ASSERT_EQ(layout.ranges().size(), 1U);
    EXPECT_EQ(layout.ranges()[0], (RamRange{0, 512 * kMiB, 0}));
    EXPECT_EQ(layout.end_gpa(), 512 * kMiB);
    EXPECT_EQ(layout.total_bytes(), 512 * kMiB);
}

TEST(RamLayout, RamAbove3GiBContinuesAt4GiB) {
    const auto layout = RamLayout::x86_standard(5 * kGiB);
    ASSERT_EQ(layout.ranges().size(), 2U);
    EXPECT_EQ(layout.ranges()[0], (RamRange{0, 3 * kGiB, 0}));
    EXPECT_EQ(layout.ranges()[1], (RamRange{4 * kGiB, 2 * kGiB, 3 * kGiB}));
    EXPECT_EQ(layout.backing_size(), 5 * kGiB);
    EXPECT_EQ(layout.end_gpa(), 6 * kGiB);
    EXPECT_FALSE(layout.contains(3 * kGiB, 1));      // the hole
    EXPECT_FALSE(layout.contains(3 * kGiB - 4, 8));  // straddles the hole's start
    EXPECT_EQ(layout.offset_of(4 * kGiB + 16, 8), 3 * kGiB + 16);
}

TEST(RamLayout, RejectsOverlapsAndEmptyRanges) {
    EXPECT_THROW(RamLayout({{0, 0, 0}}), Error);
    EXPECT_THROW(RamLayout({{0, 8192, 0}, {4096, 4096, 8192}}), Error);
    EXPECT_THROW(RamLayout({{0, 4096, 0}, {8192, 4096, 0}}), Error);  // shared backing
    EXPECT_THROW(RamLayout::x86_standard(0), Error);
}

TEST(PhysView, ReadsAreBoundsChecked) {
    std::vector<std::byte> backing(3 * kPageSize);
    for (std::size_t i = 0; i < backing.size(); ++i) {
        backing[i] = static_cast<std::byte>(i & 0xff);
    }
    // Two ranges: gpa [0, 4K) at offset 0 and gpa [8K, 16K) at offset 4K.
    const PhysView view(backing,
                        RamLayout({{0, kPageSize, 0}, {2 * kPageSize, 2 * kPageSize, kPageSize}}));
    std::array<std::byte, 4> out{};
    EXPECT_TRUE(view.read(4092, out));
    EXPECT_EQ(out[0], std::byte{0xfc});
    EXPECT_FALSE(view.read(4094, out));               // runs into the gap
    EXPECT_FALSE(view.read(4 * kPageSize - 2, out));  // runs past the end
    EXPECT_FALSE(view.read(~0ULL - 1, out));          // wraps
    EXPECT_EQ(view.read_as<std::uint8_t>(2 * kPageSize), std::uint8_t{0});
    EXPECT_EQ(view.page(2 * kPageSize + 100).size(), kPageSize);
    EXPECT_EQ(view.page(kPageSize).size(), 0U);
    EXPECT_TRUE(view.span(0, kPageSize + 1).empty());
}

TEST(PhysView, ReadsAcrossAdjacentRanges) {
    std::vector<std::byte> backing(2 * kPageSize);
    backing[2 * kPageSize - 1] = std::byte{1};  // last byte of gpa range [0, 4K)
    backing[0] = std::byte{2};                  // first byte of gpa range [4K, 8K)
    // Adjacent in gpa, reversed in the backing.
    const PhysView view(backing, RamLayout({{0, kPageSize, kPageSize}, {kPageSize, kPageSize, 0}}));
    std::array<std::byte, 2> out{};
    ASSERT_TRUE(view.read(kPageSize - 1, out));
    EXPECT_EQ(out[0], std::byte{1});
    EXPECT_EQ(out[1], std::byte{2});
}

TEST(PhysView, RejectsShortBacking) {
    std::vector<std::byte> backing(kPageSize);
    EXPECT_THROW(PhysView(backing, RamLayout::x86_standard(2 * kPageSize)), Error);
}

TEST(GuestRam, IsAMemfdOthersCanMap) {
    const GuestRam ram(16 * kMiB, "test-ram");
    const std::array<std::byte, 3> data{std::byte{1}, std::byte{2}, std::byte{3}};
    ram.write(0x1000, data);
    EXPECT_EQ(ram.view().read_as<std::uint8_t>(0x1002), std::uint8_t{3});
    EXPECT_THROW(ram.write(16 * kMiB - 1, data), Error);

    test::TempDir dir;
    const auto path = "/proc/self/fd/" + std::to_string(ram.fd());
    const MappedPhysMemory other(path, ram.layout());
    EXPECT_EQ(other.view().read_as<std::uint8_t>(0x1001), std::uint8_t{2});
}

TEST(MappedPhysMemory, NamesTheFileWhenTooSmall) {
    test::TempDir dir;
    const auto file = dir.write("ram.img", std::string(100, 'x'));
    try {
        const MappedPhysMemory m(file, RamLayout::x86_standard(kPageSize));
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("ram.img"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("100 bytes"), std::string::npos) << e.what();
    }
}

}  // namespace
}  // namespace mvmm
