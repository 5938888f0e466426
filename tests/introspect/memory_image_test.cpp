// Saved guest memory images: round trip, sparse zero pages, and rejection of
// damaged files with messages that say what is wrong.
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mvmm/common/error.hpp>
#include <mvmm/memory/memory_image.hpp>
#include <mvmm/walker/synthetic.hpp>
#include <mvmm/walker/walker.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

void patch(const std::filesystem::path& path, std::uint64_t at, const void* data, std::size_t len) {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(at));
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(len));
}

std::string error_of(const std::filesystem::path& path) {
    try {
        const MemoryImage image(path);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(MemoryImage, RoundTripKeepsLayoutBytesAndMetadata) {
    const test::TempDir dir;
    walker::SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0x1000'0000, 8 * kMiB, 2 * kMiB);
    const auto path = dir.path() / "guest.img";
    std::uint64_t last_done = 0;
    std::uint64_t last_total = 0;
    write_memory_image(path, mem.view(), R"({"hello": 1})",
                       [&](std::uint64_t done, std::uint64_t total) {
                           EXPECT_GE(done, last_done);
                           last_done = done;
                           last_total = total;
                       });
    EXPECT_EQ(last_done, 64 * kMiB);
    EXPECT_EQ(last_total, 64 * kMiB);
    ASSERT_TRUE(MemoryImage::looks_like_image(path));

    const MemoryImage image(path);
    EXPECT_EQ(image.metadata(), R"({"hello": 1})");
    ASSERT_EQ(image.layout().ranges().size(), 1U);
    EXPECT_EQ(image.layout().ranges()[0].gpa, 0U);
    EXPECT_EQ(image.layout().ranges()[0].size, 64 * kMiB);
    EXPECT_EQ(image.layout().ranges()[0].offset % kPageSize, 0U);
    for (std::uint64_t gpa = 0; gpa < 64 * kMiB; gpa += kPageSize) {
        const auto a = image.view().page(gpa);
        const auto b = mem.view().page(gpa);
        ASSERT_EQ(std::memcmp(a.data(), b.data(), kPageSize), 0) << "page " << gpa;
    }
    // The walker sees the same tables through the image.
    const std::uint64_t roots[] = {root};
    const auto from_image = walker::walk(image.view(), roots, {});
    const auto from_memory = walker::walk(mem.view(), roots, {});
    EXPECT_EQ(from_image.roots()[0].own_tables, from_memory.roots()[0].own_tables);
    EXPECT_EQ(from_image.roots()[0].mapped_bytes, 2 * kMiB);

    // Zero pages are holes: the file uses far less disk than its size.
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_LT(static_cast<std::uint64_t>(st.st_blocks) * 512, 4 * kMiB);
    EXPECT_GE(static_cast<std::uint64_t>(st.st_size), 64 * kMiB);
}

TEST(MemoryImage, RamAboveTheHoleKeepsItsAddresses) {
    const test::TempDir dir;
    // A layout with a gap, over an ordinary buffer.
    std::vector<std::byte> backing(3 * kPageSize);
    backing[kPageSize + 5] = std::byte{0x42};
    backing[2 * kPageSize + 7] = std::byte{0x43};
    const PhysView view(backing,
                        RamLayout({{0, kPageSize, 0}, {1ULL << 32, 2 * kPageSize, kPageSize}}));
    const auto path = dir.path() / "two.img";
    write_memory_image(path, view, "");
    const MemoryImage image(path);
    ASSERT_EQ(image.layout().ranges().size(), 2U);
    EXPECT_EQ(image.view().read_as<std::uint8_t>((1ULL << 32) + 5), 0x42);
    EXPECT_EQ(image.view().read_as<std::uint8_t>((1ULL << 32) + kPageSize + 7), 0x43);
    EXPECT_FALSE(image.view().read_as<std::uint8_t>(kPageSize).has_value());
    EXPECT_EQ(image.metadata(), "");
}

TEST(MemoryImage, DamagedFilesAreRefusedWithTheReason) {
    const test::TempDir dir;
    std::vector<std::byte> backing(4 * kPageSize, std::byte{1});
    const PhysView view(backing, RamLayout({{0, 4 * kPageSize, 0}}));
    const auto good = dir.path() / "good.img";
    write_memory_image(good, view, "meta");

    const auto copy = [&](const char* name) {
        const auto p = dir.path() / name;
        std::filesystem::copy_file(good, p);
        return p;
    };

    EXPECT_NE(error_of(dir.path() / "missing.img").find("No such file"), std::string::npos);

    const auto magic = copy("magic.img");
    patch(magic, 0, "XXXX", 4);
    EXPECT_NE(error_of(magic).find("bad magic"), std::string::npos);
    EXPECT_FALSE(MemoryImage::looks_like_image(magic));

    const auto version = copy("version.img");
    const std::uint32_t v = 99;
    patch(version, 8, &v, 4);
    EXPECT_NE(error_of(version).find("unsupported image version 99"), std::string::npos);

    const auto ranges = copy("ranges.img");
    const std::uint32_t n = 100000;
    patch(ranges, 12, &n, 4);
    EXPECT_NE(error_of(ranges).find("RAM ranges"), std::string::npos);

    const auto truncated = copy("truncated.img");
    std::filesystem::resize_file(truncated, std::filesystem::file_size(truncated) - kPageSize);
    EXPECT_NE(error_of(truncated).find("runs past the end of the file"), std::string::npos);

    const auto meta = copy("meta.img");
    const std::uint64_t huge = 1ULL << 40;
    patch(meta, 24, &huge, 8);
    EXPECT_NE(error_of(meta).find("exceeds the limit"), std::string::npos);

    const auto unaligned = copy("unaligned.img");
    const std::uint64_t gpa = 123;
    patch(unaligned, 40, &gpa, 8);
    EXPECT_NE(error_of(unaligned).find("not page aligned"), std::string::npos);

    const auto tiny = dir.write("tiny.img", "MVMM");
    EXPECT_NE(error_of(tiny).find("too small"), std::string::npos);

    // No temporary file is left behind by a successful write.
    for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
        EXPECT_EQ(e.path().string().find(".tmp-"), std::string::npos);
    }
}

TEST(MemoryImage, WriteFailureLeavesNothingBehind) {
    std::vector<std::byte> backing(kPageSize);
    const PhysView view(backing, RamLayout({{0, kPageSize, 0}}));
    EXPECT_THROW(write_memory_image("/nonexistent-folder/x.img", view, ""), Error);
}

}  // namespace
}  // namespace mvmm
