// The PS/2 controller (i8042) as far as a guest uses it to reset the machine:
// command 0xfe (pulse the reset line) and writing the output port with bit 0
// clear. Enough of the rest (self-test, command byte) to keep probes happy.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

namespace i8042 {
inline constexpr std::uint16_t kDataPort = 0x60;
inline constexpr std::uint16_t kCommandPort = 0x64;
inline constexpr std::uint8_t kCmdReadCommandByte = 0x20;
inline constexpr std::uint8_t kCmdWriteCommandByte = 0x60;
inline constexpr std::uint8_t kCmdSelfTest = 0xaa;
inline constexpr std::uint8_t kCmdInterfaceTest = 0xab;
inline constexpr std::uint8_t kCmdReadOutputPort = 0xd0;
inline constexpr std::uint8_t kCmdWriteOutputPort = 0xd1;
inline constexpr std::uint8_t kCmdPulseReset = 0xfe;
inline constexpr std::uint8_t kStatusOutputFull = 0x01;
inline constexpr std::uint8_t kStatusSystem = 0x04;
}  // namespace i8042

class I8042 : public IoDevice {
  public:
    // Serves [0x60, 0x65): offset 0 is the data port, offset 4 command and
    // status. Ports 0x61-0x63 between them read as 0xff (KVM's in-kernel PIT
    // serves 0x61 itself, so its exits never reach the bus).
    explicit I8042(std::function<void()> reset);

    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

    // Adds the device's range to `bus`.
    static void attach(IoBus& bus, const std::shared_ptr<I8042>& device);

  private:
    std::function<void()> reset_;
    std::mutex mutex_;
    std::deque<std::uint8_t> output_;
    std::uint8_t command_byte_ = 0x01;
    std::uint8_t pending_command_ = 0;  // a command waiting for its data byte
    std::uint8_t output_port_ = 0x01;   // bit 0: reset line released
};

}  // namespace mvmm
