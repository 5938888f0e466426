// i8042 reset, the marker and pvpanic ports, the CMOS clock, the null device.
#include <vector>

#include <gtest/gtest.h>

#include <mvmm/devices/cmos_rtc.hpp>
#include <mvmm/devices/i8042.hpp>
#include <mvmm/devices/marker_port.hpp>
#include <mvmm/devices/null_device.hpp>
#include <mvmm/devices/pvpanic_port.hpp>
#include <mvmm/guest_abi.h>

namespace mvmm {
namespace {

std::uint8_t in(IoBus& bus, std::uint64_t port) {
    std::uint8_t v = 0;
    (void)bus.read(port, std::span(&v, 1));
    return v;
}
void out(IoBus& bus, std::uint64_t port, std::uint8_t v) {
    (void)bus.write(port, std::span(&v, 1));
}

class Kbc : public ::testing::Test {
  protected:
    Kbc() {
        kbc_ = std::make_shared<I8042>([this] { ++resets_; });
        I8042::attach(bus_, kbc_);
    }
    IoBus bus_{"port"};
    std::shared_ptr<I8042> kbc_;
    int resets_ = 0;
};

TEST_F(Kbc, PulseResetCommand) {
    // Linux's reboot=k: wait for the input buffer to drain, then write 0xfe.
    EXPECT_EQ(in(bus_, 0x64) & 0x02, 0);
    out(bus_, 0x64, 0xfe);
    EXPECT_EQ(resets_, 1);
}

TEST_F(Kbc, OutputPortWithResetBitClear) {
    out(bus_, 0x64, 0xd1);
    out(bus_, 0x60, 0xdf);  // A20 on, reset line released: no reset
    EXPECT_EQ(resets_, 0);
    out(bus_, 0x64, 0xd0);
    EXPECT_EQ(in(bus_, 0x64) & 0x01, 0x01);
    EXPECT_EQ(in(bus_, 0x60), 0xdf);
    out(bus_, 0x64, 0xd1);
    out(bus_, 0x60, 0xde);  // bit 0 clear: reset
    EXPECT_EQ(resets_, 1);
}

TEST_F(Kbc, SelfTestAndCommandByte) {
    out(bus_, 0x64, 0xaa);
    EXPECT_EQ(in(bus_, 0x64), 0x15);  // not inhibited, system flag, output full
    EXPECT_EQ(in(bus_, 0x60), 0x55);
    EXPECT_EQ(in(bus_, 0x64), 0x14);
    out(bus_, 0x64, 0x60);
    out(bus_, 0x60, 0x47);
    out(bus_, 0x64, 0x20);
    EXPECT_EQ(in(bus_, 0x60), 0x47);
    out(bus_, 0x60, 0xff);  // a keyboard command gets an ACK
    EXPECT_EQ(in(bus_, 0x60), 0xfa);
    EXPECT_EQ(resets_, 0);
    // 0x61 sits inside the range but is not the controller's.
    EXPECT_EQ(in(bus_, 0x61), 0xff);
}

// What Linux's i8042 probe does, answered at once so that it waits out no
// timeout: loop-back through the AUX port, port disable bits in the command
// byte, interface tests.
TEST_F(Kbc, LoopBackAndPortDisableBits) {
    out(bus_, 0x64, 0xd3);
    out(bus_, 0x60, 0x5a);
    EXPECT_EQ(in(bus_, 0x64), 0x35);  // AUX data, output full
    EXPECT_EQ(in(bus_, 0x60), 0x5a);
    out(bus_, 0x64, 0xd2);
    out(bus_, 0x60, 0xa5);
    EXPECT_EQ(in(bus_, 0x64), 0x15);  // keyboard data
    EXPECT_EQ(in(bus_, 0x60), 0xa5);
    EXPECT_EQ(in(bus_, 0x64) & 0x01, 0);  // nothing left behind

    const auto command_byte = [&] {
        out(bus_, 0x64, 0x20);
        return in(bus_, 0x60);
    };
    EXPECT_EQ(command_byte() & 0x30, 0x20);  // AUX disabled after reset
    out(bus_, 0x64, 0xa8);
    EXPECT_EQ(command_byte() & 0x30, 0x00);
    out(bus_, 0x64, 0xad);
    EXPECT_EQ(command_byte() & 0x30, 0x10);
    out(bus_, 0x64, 0xa7);
    out(bus_, 0x64, 0xae);
    EXPECT_EQ(command_byte() & 0x30, 0x20);

    out(bus_, 0x64, 0xa9);
    EXPECT_EQ(in(bus_, 0x60), 0x00);
    out(bus_, 0x64, 0xab);
    EXPECT_EQ(in(bus_, 0x60), 0x00);
    // A byte for the (absent) AUX device gets no answer.
    out(bus_, 0x64, 0xd4);
    out(bus_, 0x60, 0xf2);
    EXPECT_EQ(in(bus_, 0x64) & 0x01, 0);
    EXPECT_EQ(resets_, 0);
}

TEST(MarkerPort, ReportsEveryByte) {
    std::vector<std::uint8_t> seen;
    IoBus bus("port");
    bus.add(MVMM_MARKER_PORT, 1,
            std::make_shared<MarkerPort>([&](std::uint8_t b) { seen.push_back(b); }), "marker");
    out(bus, MVMM_MARKER_PORT, MVMM_MARKER_BOOT_COMPLETE);
    out(bus, MVMM_MARKER_PORT, 'x');
    EXPECT_EQ(seen, (std::vector<std::uint8_t>{'B', 'x'}));
    EXPECT_EQ(in(bus, MVMM_MARKER_PORT), 0xe9);
}

TEST(PvPanicPort, AdvertisesAndReports) {
    std::vector<std::uint8_t> events;
    IoBus bus("port");
    bus.add(MVMM_PVPANIC_PORT, 1,
            std::make_shared<PvPanicPort>([&](std::uint8_t e) { events.push_back(e); }), "pvpanic");
    EXPECT_EQ(in(bus, MVMM_PVPANIC_PORT), 3);
    out(bus, MVMM_PVPANIC_PORT, 0);  // nothing to report
    out(bus, MVMM_PVPANIC_PORT, PvPanicPort::kPanicked);
    EXPECT_EQ(events, (std::vector<std::uint8_t>{1}));
}

TEST(CmosRtc, HostTimeInBcd) {
    // 2026-11-25 13:47:09 UTC, a Wednesday.
    IoBus bus("port");
    bus.add(CmosRtc::kPort, 2, std::make_shared<CmosRtc>([] { return std::time_t{1795614429}; }),
            "rtc");
    const auto reg = [&](std::uint8_t index) {
        out(bus, 0x70, index | 0x80);  // with the NMI mask bit, as Linux writes it
        return in(bus, 0x71);
    };
    EXPECT_EQ(reg(0x00), 0x09);
    EXPECT_EQ(reg(0x02), 0x47);
    EXPECT_EQ(reg(0x04), 0x13);
    EXPECT_EQ(reg(0x06), 0x04);
    EXPECT_EQ(reg(0x07), 0x25);
    EXPECT_EQ(reg(0x08), 0x11);
    EXPECT_EQ(reg(0x09), 0x26);
    EXPECT_EQ(reg(0x32), 0x20);
    EXPECT_EQ(reg(0x0a) & 0x80, 0);  // never "update in progress"
    EXPECT_EQ(reg(0x0b), 0x02);      // 24-hour, BCD
    EXPECT_EQ(reg(0x0d), 0x80);
    out(bus, 0x70, 0x40);
    out(bus, 0x71, 0x99);
    EXPECT_EQ(reg(0x40), 0x99);  // CMOS RAM
    out(bus, 0x70, 0x00);
    out(bus, 0x71, 0x33);
    EXPECT_EQ(reg(0x00), 0x09);  // the clock ignores writes
}

TEST(NullDevice, SwallowsAccesses) {
    IoBus bus("port");
    bus.add(0x80, 1, std::make_shared<NullDevice>(0x00), "post");
    out(bus, 0x80, 0x12);
    EXPECT_EQ(in(bus, 0x80), 0x00);
    EXPECT_EQ(bus.unclaimed(), 0U);
}

}  // namespace
}  // namespace mvmm
