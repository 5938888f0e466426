// The PS/2 controller (i8042) as far as a guest uses it to reset the machine:
// command 0xfe (pulse the reset line) and writing the output port with bit 0
// clear. Enough of the rest for Linux's probe to finish without waiting out
// timeouts: self-test, interface tests, the command byte with its port
// disable bits, and the loop-back commands. No keyboard or mouse is attached
// and the controller raises no interrupts, so Linux finds no AUX port (its
// interrupt test fails) and a keyboard port whose device only ACKs.
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
inline constexpr std::uint8_t kCmdAuxDisable = 0xa7;
inline constexpr std::uint8_t kCmdAuxEnable = 0xa8;
inline constexpr std::uint8_t kCmdAuxInterfaceTest = 0xa9;
inline constexpr std::uint8_t kCmdSelfTest = 0xaa;
inline constexpr std::uint8_t kCmdInterfaceTest = 0xab;
inline constexpr std::uint8_t kCmdKbdDisable = 0xad;
inline constexpr std::uint8_t kCmdKbdEnable = 0xae;
inline constexpr std::uint8_t kCmdReadOutputPort = 0xd0;
inline constexpr std::uint8_t kCmdWriteOutputPort = 0xd1;
inline constexpr std::uint8_t kCmdKbdLoop = 0xd2;   // next data byte comes back as keyboard data
inline constexpr std::uint8_t kCmdAuxLoop = 0xd3;   // next data byte comes back as AUX data
inline constexpr std::uint8_t kCmdAuxWrite = 0xd4;  // next data byte goes to the AUX device
inline constexpr std::uint8_t kCmdPulseReset = 0xfe;
inline constexpr std::uint8_t kStatusOutputFull = 0x01;
inline constexpr std::uint8_t kStatusSystem = 0x04;
inline constexpr std::uint8_t kStatusNotInhibited = 0x10;  // keyboard lock switch off
inline constexpr std::uint8_t kStatusAuxData = 0x20;       // the output byte is from AUX
inline constexpr std::uint8_t kCommandByteKbdDisabled = 0x10;
inline constexpr std::uint8_t kCommandByteAuxDisabled = 0x20;
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
    struct Output {
        std::uint8_t byte;
        bool aux;  // from the AUX port (status bit 5)
    };
    void push(std::uint8_t byte, bool aux = false);

    std::deque<Output> output_;
    std::uint8_t command_byte_ = 0x01 | i8042::kCommandByteAuxDisabled;
    std::uint8_t pending_command_ = 0;  // a command waiting for its data byte
    std::uint8_t output_port_ = 0x01;   // bit 0: reset line released
};

}  // namespace mvmm
