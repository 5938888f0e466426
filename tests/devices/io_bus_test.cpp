#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/devices/io_bus.hpp>

namespace mvmm {
namespace {

// Records accesses; reads return the offset.
struct Recorder : IoDevice {
    std::vector<std::pair<std::uint64_t, std::size_t>> reads;
    std::vector<std::pair<std::uint64_t, std::vector<std::uint8_t>>> writes;
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override {
        reads.emplace_back(offset, data.size());
        for (auto& b : data) {
            b = static_cast<std::uint8_t>(offset);
        }
    }
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override {
        writes.emplace_back(offset, std::vector<std::uint8_t>(data.begin(), data.end()));
    }
};

TEST(IoBus, DispatchesWithOffsetsFromTheBase) {
    IoBus bus("port");
    auto a = std::make_shared<Recorder>();
    auto b = std::make_shared<Recorder>();
    bus.add(0x3f8, 8, a, "com1");
    bus.add(0x2f8, 8, b, "com2");
    std::uint8_t byte = 0;
    EXPECT_TRUE(bus.read(0x3fd, std::span(&byte, 1)));
    EXPECT_EQ(byte, 5);
    const std::uint8_t out[2] = {0x41, 0x42};
    EXPECT_TRUE(bus.write(0x2f8, out));
    ASSERT_EQ(b->writes.size(), 1U);
    EXPECT_EQ(b->writes[0].first, 0U);
    EXPECT_EQ(b->writes[0].second, (std::vector<std::uint8_t>{0x41, 0x42}));
    EXPECT_TRUE(a->writes.empty());
    EXPECT_EQ(bus.unclaimed(), 0U);
}

TEST(IoBus, UnclaimedReadsAreAllOnes) {
    IoBus bus("port");
    bus.add(0x3f8, 8, std::make_shared<Recorder>(), "com1");
    std::uint32_t value = 0;
    EXPECT_FALSE(bus.read(0x3f0, std::span(reinterpret_cast<std::uint8_t*>(&value), 4)));
    EXPECT_EQ(value, 0xffffffffU);
    // An access that runs past the end of a range is not claimed either.
    value = 0;
    EXPECT_FALSE(bus.read(0x3fe, std::span(reinterpret_cast<std::uint8_t*>(&value), 4)));
    EXPECT_EQ(value, 0xffffffffU);
    const std::uint8_t b = 1;
    EXPECT_FALSE(bus.write(0x400, std::span(&b, 1)));
    EXPECT_EQ(bus.unclaimed(), 3U);
}

TEST(IoBus, RejectsOverlaps) {
    IoBus bus("port");
    bus.add(0x60, 5, std::make_shared<Recorder>(), "i8042");
    try {
        bus.add(0x64, 1, std::make_shared<Recorder>(), "other");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()),
                  "port bus: device 'other' at [0x64, 0x65) overlaps 'i8042' at [0x60, 0x65)");
    }
    EXPECT_THROW(bus.add(0x70, 0, std::make_shared<Recorder>(), "empty"), Error);
    EXPECT_NO_THROW(bus.add(0x65, 1, std::make_shared<Recorder>(), "next"));
    EXPECT_NO_THROW(bus.add(0x5f, 1, std::make_shared<Recorder>(), "before"));
}

}  // namespace
}  // namespace mvmm
