#include <algorithm>
#include <utility>

#include <mvmm/devices/i8042.hpp>

namespace mvmm {

using namespace i8042;

I8042::I8042(std::function<void()> reset) : reset_(std::move(reset)) {}

void I8042::attach(IoBus& bus, const std::shared_ptr<I8042>& device) {
    bus.add(kDataPort, kCommandPort - kDataPort + 1, device, "i8042");
}

void I8042::push(std::uint8_t byte, bool aux) {
    output_.push_back({byte, aux});
    while (output_.size() > 16) {
        output_.pop_front();
    }
}

void I8042::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    const std::lock_guard lock(mutex_);
    std::fill(data.begin(), data.end(), 0xff);
    if (data.empty()) {
        return;
    }
    if (offset == kCommandPort - kDataPort) {
        // Status: the input buffer is always empty, so a guest may send a command at once.
        std::uint8_t status = kStatusSystem | kStatusNotInhibited;
        if (!output_.empty()) {
            status |= kStatusOutputFull | (output_.front().aux ? kStatusAuxData : 0);
        }
        data[0] = status;
    } else if (offset == 0) {  // data
        if (output_.empty()) {
            data[0] = 0;
        } else {
            data[0] = output_.front().byte;
            output_.pop_front();
        }
    }
}

void I8042::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    if (data.empty()) {
        return;
    }
    const std::uint8_t value = data[0];
    bool reset = false;
    {
        const std::lock_guard lock(mutex_);
        if (offset == 0) {  // data: the argument of a pending command, or a keyboard command
            switch (std::exchange(pending_command_, 0)) {
                case kCmdWriteCommandByte:
                    command_byte_ = value;
                    break;
                case kCmdWriteOutputPort:
                    output_port_ = value;
                    reset = (value & 1) == 0;
                    break;
                case kCmdKbdLoop:
                    push(value);
                    break;
                case kCmdAuxLoop:
                    push(value, true);
                    break;
                case kCmdAuxWrite:
                    break;  // no AUX device to receive it
                default:
                    push(0xfa);  // ACK whatever the keyboard was told
                    break;
            }
        } else if (offset == kCommandPort - kDataPort) {
            switch (value) {
                case kCmdReadCommandByte:
                    push(command_byte_);
                    break;
                case kCmdWriteCommandByte:
                case kCmdWriteOutputPort:
                case kCmdKbdLoop:
                case kCmdAuxLoop:
                case kCmdAuxWrite:
                    pending_command_ = value;
                    break;
                case kCmdAuxDisable:
                    command_byte_ |= kCommandByteAuxDisabled;
                    break;
                case kCmdAuxEnable:
                    command_byte_ &= static_cast<std::uint8_t>(~kCommandByteAuxDisabled);
                    break;
                case kCmdKbdDisable:
                    command_byte_ |= kCommandByteKbdDisabled;
                    break;
                case kCmdKbdEnable:
                    command_byte_ &= static_cast<std::uint8_t>(~kCommandByteKbdDisabled);
                    break;
                case kCmdSelfTest:
                    push(0x55);
                    break;
                case kCmdInterfaceTest:
                case kCmdAuxInterfaceTest:
                    push(0x00);  // no error
                    break;
                case kCmdReadOutputPort:
                    push(output_port_);
                    break;
                case kCmdPulseReset:
                    reset = true;
                    break;
                default:
                    break;
            }
        }
    }
    if (reset && reset_) {
        reset_();
    }
}

}  // namespace mvmm
