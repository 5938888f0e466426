// UART register behaviour, as Linux's 8250 driver exercises it.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <mvmm/devices/serial8250.hpp>

namespace mvmm {
namespace {

using namespace uart;

class Uart : public ::testing::Test {
  protected:
    explicit Uart(std::size_t capacity = 4096)
        : uart_(
              "test", [this](bool level) { levels_.push_back(level); },
              [this](std::span<const std::uint8_t> b) { tx_.append(b.begin(), b.end()); },
              capacity) {}

    std::uint8_t in(unsigned reg) {
        std::uint8_t v = 0;
        uart_.read(reg, std::span(&v, 1));
        return v;
    }
    void out(unsigned reg, std::uint8_t v) { uart_.write(reg, std::span(&v, 1)); }
    bool irq() const { return !levels_.empty() && levels_.back(); }
    void receive(const std::string& s) {
        EXPECT_EQ(
            uart_.receive(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())),
            s.size());
    }

    Serial8250 uart_;
    std::vector<bool> levels_;
    std::string tx_;
};

TEST_F(Uart, ResetState) {
    EXPECT_EQ(in(kIer), 0);
    EXPECT_EQ(in(kIirFcr), kIirNoInt);
    EXPECT_EQ(in(kLcr), 0);
    EXPECT_EQ(in(kMcr), 0);
    EXPECT_EQ(in(kLsr), kLsrThre | kLsrTemt);
    EXPECT_EQ(in(kMsr), kMsrDcd | kMsrDsr | kMsrCts);
    EXPECT_FALSE(irq());
}

TEST_F(Uart, TransmitsThr) {
    out(kRbrThr, 'o');
    out(kRbrThr, 'k');
    EXPECT_EQ(tx_, "ok");
    EXPECT_EQ(in(kLsr) & (kLsrThre | kLsrTemt), kLsrThre | kLsrTemt);  // sent at once
}

TEST_F(Uart, ScratchRegister) {
    out(kScr, 0x5a);
    EXPECT_EQ(in(kScr), 0x5a);
    out(kScr, 0xa5);
    EXPECT_EQ(in(kScr), 0xa5);
}

TEST_F(Uart, DivisorLatchHidesThrAndIer) {
    out(kLcr, kLcrDlab | 0x03);
    out(kRbrThr, 0x01);  // 115200 baud
    out(kIer, 0x00);
    EXPECT_EQ(in(kRbrThr), 0x01);
    EXPECT_EQ(in(kIer), 0x00);
    EXPECT_TRUE(tx_.empty());
    out(kLcr, 0x03);  // 8N1, DLAB off
    out(kIer, kIerRdi);
    EXPECT_EQ(in(kIer), kIerRdi);
    out(kLcr, kLcrDlab | 0x03);
    EXPECT_EQ(in(kRbrThr), 0x01);  // the latch kept its value
    EXPECT_EQ(in(kLcr), kLcrDlab | 0x03);
}

TEST_F(Uart, FifoEnableShowsIn_IirForThe16550ADetection) {
    out(kIirFcr, kFcrEnable);
    EXPECT_EQ(in(kIirFcr), kIirFifoEnabled | kIirNoInt);
    out(kIirFcr, 0);
    EXPECT_EQ(in(kIirFcr), kIirNoInt);
}

TEST_F(Uart, ReceivesInOrder) {
    receive("hi");
    EXPECT_EQ(in(kLsr)&kLsrDr, kLsrDr);
    EXPECT_EQ(in(kRbrThr), 'h');
    EXPECT_EQ(in(kLsr)&kLsrDr, kLsrDr);
    EXPECT_EQ(in(kRbrThr), 'i');
    EXPECT_EQ(in(kLsr)&kLsrDr, 0);
    EXPECT_EQ(in(kRbrThr), 0);
}

TEST_F(Uart, ReceiveInterruptFollowsData) {
    out(kIer, kIerRdi);
    EXPECT_FALSE(irq());
    receive("ab");
    EXPECT_TRUE(irq());
    EXPECT_EQ(in(kIirFcr), kIirRdi);
    (void)in(kRbrThr);
    EXPECT_TRUE(irq());
    (void)in(kRbrThr);
    EXPECT_FALSE(irq());
    EXPECT_EQ(in(kIirFcr), kIirNoInt);
    // Disabled interrupts keep the line low whatever arrives.
    out(kIer, 0);
    receive("c");
    EXPECT_FALSE(irq());
}

TEST_F(Uart, ThreInterruptOnEnableAckedByIirRead) {
    out(kIer, kIerThri);
    EXPECT_TRUE(irq());  // THR is empty, so enabling raises it at once
    EXPECT_EQ(in(kIirFcr), kIirThri);
    EXPECT_FALSE(irq());  // reading IIR acknowledged it
    EXPECT_EQ(in(kIirFcr), kIirNoInt);
    out(kRbrThr, 'x');  // sending empties THR again: a new interrupt
    EXPECT_TRUE(irq());
    out(kIer, 0);
    EXPECT_FALSE(irq());
    EXPECT_EQ(levels_, (std::vector<bool>{true, false, true, false}));
}

TEST_F(Uart, ReceiveHasPriorityOverThre) {
    out(kIer, kIerThri | kIerRdi);
    receive("z");
    EXPECT_EQ(in(kIirFcr), kIirRdi);
    (void)in(kRbrThr);
    EXPECT_EQ(in(kIirFcr), kIirThri);
}

TEST_F(Uart, LoopbackAsLinuxProbesIt) {
    // serial8250's autoconfig: loopback with OUT2|RTS must show DCD|CTS.
    out(kMcr, kMcrLoop | kMcrOut2 | kMcrRts);
    EXPECT_EQ(in(kMsr)&0xf0, kMsrDcd | kMsrCts);
    out(kMcr, kMcrLoop | kMcrDtr | kMcrOut1);
    const auto msr = in(kMsr);
    EXPECT_EQ(msr & 0xf0, kMsrDsr | kMsrRi);
    EXPECT_EQ(msr & 0x0f, kMsrDdsr | kMsrDcts | kMsrDdcd);  // CTS, DCD fell; DSR rose
    EXPECT_EQ(in(kMsr)&0x0f, 0);                            // deltas clear on read
    // Transmitted bytes come back instead of leaving.
    out(kRbrThr, 'L');
    EXPECT_TRUE(tx_.empty());
    EXPECT_EQ(in(kLsr)&kLsrDr, kLsrDr);
    EXPECT_EQ(in(kRbrThr), 'L');
    out(kMcr, kMcrOut2);
    out(kRbrThr, 'T');
    EXPECT_EQ(tx_, "T");
}

TEST_F(Uart, ModemStatusInterrupt) {
    out(kIer, kIerMsi);
    EXPECT_FALSE(irq());
    out(kMcr, kMcrLoop);  // CTS, DSR, DCD drop
    EXPECT_TRUE(irq());
    EXPECT_EQ(in(kIirFcr), kIirMsi);
    (void)in(kMsr);
    EXPECT_FALSE(irq());
}

TEST_F(Uart, FcrClearsTheReceiveFifo) {
    receive("abc");
    out(kIirFcr, kFcrEnable | kFcrClearRx);
    EXPECT_EQ(in(kLsr)&kLsrDr, 0);
    EXPECT_EQ(in(kIirFcr)&kIirFifoEnabled, kIirFifoEnabled);
}

class SmallUart : public Uart {
  protected:
    SmallUart() : Uart(4) {}
};

TEST_F(SmallUart, ReceiveStopsAtCapacityAndReportsSpace) {
    int space = 0;
    uart_.set_rx_space_callback([&] { ++space; });
    const std::string data = "0123456789";
    EXPECT_EQ(uart_.receive(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), 10)), 4U);
    EXPECT_EQ(uart_.rx_free(), 0U);
    EXPECT_EQ(in(kRbrThr), '0');
    EXPECT_EQ(space, 1);
    EXPECT_EQ(uart_.rx_free(), 1U);
    EXPECT_EQ(in(kRbrThr), '1');
    EXPECT_EQ(space, 1);  // only the full -> not full edge is reported
}

TEST_F(SmallUart, LoopbackOverrunSetsOe) {
    out(kMcr, kMcrLoop);
    for (int i = 0; i < 5; ++i) {
        out(kRbrThr, static_cast<std::uint8_t>('a' + i));
    }
    EXPECT_EQ(uart_.overruns(), 1U);
    EXPECT_EQ(in(kLsr)&kLsrOe, kLsrOe);
    EXPECT_EQ(in(kLsr)&kLsrOe, 0);  // cleared by the read
    EXPECT_EQ(in(kRbrThr), 'a');
}

}  // namespace
}  // namespace mvmm
