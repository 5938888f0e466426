// An 8250/16550A UART as Linux's 8250 driver sees it: eight registers, a
// receive FIFO, transmit that completes at once, and an interrupt line.
//
// Bytes the guest transmits go to a sink; bytes for the guest go in with
// receive(). The interrupt output is a level: high while an enabled
// interrupt (received data, transmitter empty, modem status) is pending.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <string>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

namespace uart {
// Register offsets.
inline constexpr unsigned kRbrThr = 0;  // DLAB=1: divisor latch low
inline constexpr unsigned kIer = 1;     // DLAB=1: divisor latch high
inline constexpr unsigned kIirFcr = 2;
inline constexpr unsigned kLcr = 3;
inline constexpr unsigned kMcr = 4;
inline constexpr unsigned kLsr = 5;
inline constexpr unsigned kMsr = 6;
inline constexpr unsigned kScr = 7;
inline constexpr unsigned kRegisters = 8;
// Bits.
inline constexpr std::uint8_t kIerRdi = 0x01;
inline constexpr std::uint8_t kIerThri = 0x02;
inline constexpr std::uint8_t kIerRlsi = 0x04;
inline constexpr std::uint8_t kIerMsi = 0x08;
inline constexpr std::uint8_t kIirNoInt = 0x01;
inline constexpr std::uint8_t kIirMsi = 0x00;
inline constexpr std::uint8_t kIirThri = 0x02;
inline constexpr std::uint8_t kIirRdi = 0x04;
inline constexpr std::uint8_t kIirRlsi = 0x06;
inline constexpr std::uint8_t kIirFifoEnabled = 0xc0;
inline constexpr std::uint8_t kFcrEnable = 0x01;
inline constexpr std::uint8_t kFcrClearRx = 0x02;
inline constexpr std::uint8_t kFcrClearTx = 0x04;
inline constexpr std::uint8_t kLcrDlab = 0x80;
inline constexpr std::uint8_t kMcrDtr = 0x01;
inline constexpr std::uint8_t kMcrRts = 0x02;
inline constexpr std::uint8_t kMcrOut1 = 0x04;
inline constexpr std::uint8_t kMcrOut2 = 0x08;
inline constexpr std::uint8_t kMcrLoop = 0x10;
inline constexpr std::uint8_t kLsrDr = 0x01;
inline constexpr std::uint8_t kLsrOe = 0x02;
inline constexpr std::uint8_t kLsrThre = 0x20;
inline constexpr std::uint8_t kLsrTemt = 0x40;
inline constexpr std::uint8_t kMsrDcts = 0x01;
inline constexpr std::uint8_t kMsrDdsr = 0x02;
inline constexpr std::uint8_t kMsrTeri = 0x04;
inline constexpr std::uint8_t kMsrDdcd = 0x08;
inline constexpr std::uint8_t kMsrCts = 0x10;
inline constexpr std::uint8_t kMsrDsr = 0x20;
inline constexpr std::uint8_t kMsrRi = 0x40;
inline constexpr std::uint8_t kMsrDcd = 0x80;
// Legacy PC ports and IRQs.
inline constexpr std::uint16_t kCom1Port = 0x3f8;
inline constexpr unsigned kCom1Irq = 4;
inline constexpr std::uint16_t kCom2Port = 0x2f8;
inline constexpr unsigned kCom2Irq = 3;
}  // namespace uart

class Serial8250 : public IoDevice {
  public:
    // Gets the bytes the guest transmits; called without the UART's lock held.
    using TxSink = std::function<void(std::span<const std::uint8_t> bytes)>;

    // `rx_capacity`: bytes the receive buffer holds before receive() refuses more.
    Serial8250(std::string name, IrqLevel irq, TxSink tx, std::size_t rx_capacity = 4096);

    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    // Queues bytes for the guest; returns how many fit (the rest are not taken).
    std::size_t receive(std::span<const std::uint8_t> bytes);
    [[nodiscard]] std::size_t rx_free() const;
    // Called (without the lock) when the receive buffer was full and the guest read from it.
    void set_rx_space_callback(std::function<void()> callback);

    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    // Bytes dropped because the buffer was full when the loopback wrote into it.
    [[nodiscard]] std::uint64_t overruns() const;

  private:
    std::uint8_t read_register(unsigned reg, std::function<void()>& after);
    struct TxBuffer {
        std::array<std::uint8_t, 8> bytes{};
        std::size_t count = 0;
    };
    void write_register(unsigned reg, std::uint8_t value, TxBuffer& tx);
    std::uint8_t interrupt_id() const;
    std::uint8_t modem_status() const;
    void update_irq();

    const std::string name_;
    const IrqLevel irq_;
    const TxSink tx_;
    const std::size_t rx_capacity_;
    std::function<void()> rx_space_;

    mutable std::mutex mutex_;
    std::deque<std::uint8_t> rx_;
    std::uint8_t ier_ = 0;
    std::uint8_t lcr_ = 0;
    std::uint8_t mcr_ = 0;
    std::uint8_t scr_ = 0;
    std::uint8_t fcr_ = 0;
    std::uint8_t msr_delta_ = 0;
    std::uint8_t lsr_errors_ = 0;  // OE, cleared by reading LSR
    std::uint16_t divisor_ = 12;   // 9600 baud
    bool thri_pending_ = false;
    bool rx_was_full_ = false;
    bool irq_level_ = false;
    std::uint64_t overruns_ = 0;
};

}  // namespace mvmm
