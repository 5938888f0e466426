// The binary-stats parser against a stats file made in memory, laid out as
// api.rst (4.133 KVM_GET_STATS_FD) describes it.
#include "binary_stats.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/loader/byte_io.hpp>

namespace mvmm::kvm {
namespace {

constexpr std::uint32_t kNameSize = 48;

struct Desc {
    std::string name;
    std::uint32_t flags;
    std::int16_t exponent;
    std::uint16_t size;
    std::uint32_t offset;
    std::uint32_t bucket_size;
};

UniqueFd stats_file(const std::vector<Desc>& descs, const std::vector<std::uint64_t>& data,
                    std::size_t cut = 0) {
    const std::uint32_t id_offset = 24;
    const std::uint32_t desc_offset = id_offset + kNameSize;
    const std::uint32_t data_offset =
        desc_offset + static_cast<std::uint32_t>(descs.size()) * (16 + kNameSize);
    std::vector<std::byte> file(data_offset + data.size() * 8);
    ByteWriter w(file);
    w.u32(4, kNameSize);
    w.u32(8, static_cast<std::uint32_t>(descs.size()));
    w.u32(12, id_offset);
    w.u32(16, desc_offset);
    w.u32(20, data_offset);
    w.text(id_offset, "kvm-4242/vcpu-0");
    for (std::size_t i = 0; i < descs.size(); ++i) {
        const std::size_t at = desc_offset + i * (16 + kNameSize);
        w.u32(at, descs[i].flags);
        w.u16(at + 4, static_cast<std::uint16_t>(descs[i].exponent));
        w.u16(at + 6, descs[i].size);
        w.u32(at + 8, descs[i].offset);
        w.u32(at + 12, descs[i].bucket_size);
        w.text(at + 16, descs[i].name);
    }
    for (std::size_t i = 0; i < data.size(); ++i) {
        w.u64(data_offset + i * 8, data[i]);
    }
    UniqueFd fd(::memfd_create("stats", MFD_CLOEXEC));
    const std::size_t size = cut == 0 ? file.size() : cut;
    EXPECT_EQ(::write(fd.get(), file.data(), size), static_cast<ssize_t>(size));
    return fd;
}

const std::vector<Desc> kDescs = {
    {"exits", 0x000, 0, 1, 0, 0},               // cumulative, none, pow10
    {"pages_4k", 0x001, 0, 1, 8, 0},            // instant
    {"halt_wait_ns", 0x021, -9, 1, 16, 0},      // instant, seconds, 10^-9
    {"max_mmu_rmap_size", 0x002, 0, 1, 24, 0},  // peak
    {"halt_poll_hist", 0x123, -9, 3, 32, 8},    // linear histogram, seconds, pow2
    {"guest_mode", 0x041, 0, 1, 56, 0},         // instant boolean
};
const std::vector<std::uint64_t> kData = {1234, 77, 5000, 9, 1, 2, 3, 1};

TEST(BinaryStats, ReadsDescriptorsAndValues) {
    BinaryStats stats(stats_file(kDescs, kData), "vCPU 0");
    EXPECT_EQ(stats.id(), "kvm-4242/vcpu-0");
    ASSERT_EQ(stats.descriptors().size(), 6U);
    EXPECT_EQ(stats.value("exits"), 1234U);
    EXPECT_EQ(stats.value("pages_4k"), 77U);
    EXPECT_EQ(stats.value("nope"), std::nullopt);
    const auto json = stats.to_json();
    ASSERT_EQ(json.size(), 6U);
    EXPECT_EQ(json[0], (nlohmann::json{{"name", "exits"},
                                       {"value", 1234},
                                       {"type", "cumulative"},
                                       {"unit", "none"},
                                       {"exponent", 0}}));
    EXPECT_EQ(json[1].at("name"), "pages_4k");
    EXPECT_EQ(json[1].at("type"), "instant");
    EXPECT_EQ(json[2].at("unit"), "seconds");
    EXPECT_EQ(json[2].at("exponent"), -9);
    EXPECT_FALSE(json[2].contains("base"));
    EXPECT_EQ(json[3].at("type"), "peak");
    const auto& hist = json[4];
    EXPECT_EQ(hist.at("type"), "linear-histogram");
    EXPECT_EQ(hist.at("base"), 2);
    EXPECT_EQ(hist.at("bucket-size"), 8);
    EXPECT_EQ(hist.at("value"), (nlohmann::json{1, 2, 3}));
    EXPECT_EQ(json[5].at("unit"), "boolean");
}

TEST(BinaryStats, ValuesAreReadAfresh) {
    auto fd = stats_file(kDescs, kData);
    const int raw = fd.get();
    BinaryStats stats(std::move(fd), "VM");
    const std::uint64_t now = 99999;
    const auto data_offset = 24 + kNameSize + kDescs.size() * (16 + kNameSize);
    ASSERT_EQ(::pwrite(raw, &now, 8, static_cast<off_t>(data_offset)), 8);
    EXPECT_EQ(stats.value("exits"), 99999U);
}

TEST(BinaryStats, ShortFilesAreErrors) {
    EXPECT_THROW(BinaryStats(stats_file(kDescs, kData, 10), "VM"), Error);
    EXPECT_THROW(BinaryStats(stats_file(kDescs, kData, 200), "VM"), Error);
    BinaryStats cut(stats_file(kDescs, kData, 24 + kNameSize + 6 * (16 + kNameSize) + 16), "VM");
    EXPECT_THROW((void)cut.values(), Error);
}

}  // namespace
}  // namespace mvmm::kvm
