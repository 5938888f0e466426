#include <mvmm/devices/serial8250.hpp>

namespace mvmm {

using namespace uart;

Serial8250::Serial8250(std::string name, IrqLevel irq, TxSink tx, std::size_t rx_capacity)
    : name_(std::move(name)), irq_(std::move(irq)), tx_(std::move(tx)), rx_capacity_(rx_capacity) {}

void Serial8250::set_rx_space_callback(std::function<void()> callback) {
    const std::lock_guard lock(mutex_);
    rx_space_ = std::move(callback);
}

std::size_t Serial8250::rx_free() const {
    const std::lock_guard lock(mutex_);
    return rx_capacity_ - rx_.size();
}

std::uint64_t Serial8250::overruns() const {
    const std::lock_guard lock(mutex_);
    return overruns_;
}

std::size_t Serial8250::receive(std::span<const std::uint8_t> bytes) {
    const std::lock_guard lock(mutex_);
    std::size_t taken = 0;
    while (taken < bytes.size() && rx_.size() < rx_capacity_) {
        rx_.push_back(bytes[taken++]);
    }
    if (rx_.size() == rx_capacity_) {
        rx_was_full_ = true;
    }
    update_irq();
    return taken;
}

std::uint8_t Serial8250::modem_status() const {
    if ((mcr_ & kMcrLoop) != 0) {
        std::uint8_t msr = 0;
        msr |= (mcr_ & kMcrRts) != 0 ? kMsrCts : 0;
        msr |= (mcr_ & kMcrDtr) != 0 ? kMsrDsr : 0;
        msr |= (mcr_ & kMcrOut1) != 0 ? kMsrRi : 0;
        msr |= (mcr_ & kMcrOut2) != 0 ? kMsrDcd : 0;
        return msr;
    }
    return kMsrDcd | kMsrDsr | kMsrCts;  // a connected line
}

std::uint8_t Serial8250::interrupt_id() const {
    if ((ier_ & kIerRlsi) != 0 && lsr_errors_ != 0) {
        return kIirRlsi;
    }
    if ((ier_ & kIerRdi) != 0 && !rx_.empty()) {
        return kIirRdi;
    }
    if ((ier_ & kIerThri) != 0 && thri_pending_) {
        return kIirThri;
    }
    if ((ier_ & kIerMsi) != 0 && msr_delta_ != 0) {
        return kIirMsi;
    }
    return kIirNoInt;
}

void Serial8250::update_irq() {
    const bool level = interrupt_id() != kIirNoInt;
    if (level != irq_level_) {
        irq_level_ = level;
        if (irq_) {
            irq_(level);
        }
    }
}

std::uint8_t Serial8250::read_register(unsigned reg, std::function<void()>& after) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (reg) {
        case kRbrThr: {
            if (dlab) {
                return static_cast<std::uint8_t>(divisor_ & 0xff);
            }
            if (rx_.empty()) {
                return 0;
            }
            const std::uint8_t value = rx_.front();
            rx_.pop_front();
            if (rx_was_full_) {
                rx_was_full_ = false;
                after = rx_space_;
            }
            return value;
        }
        case kIer:
            return dlab ? static_cast<std::uint8_t>(divisor_ >> 8) : ier_;
        case kIirFcr: {
            const std::uint8_t id = interrupt_id();
            if (id == kIirThri) {
                thri_pending_ = false;  // reading IIR acknowledges THRE
            }
            return static_cast<std::uint8_t>(id | ((fcr_ & kFcrEnable) != 0 ? kIirFifoEnabled : 0));
        }
        case kLcr:
            return lcr_;
        case kMcr:
            return mcr_;
        case kLsr: {
            std::uint8_t lsr = kLsrThre | kLsrTemt | lsr_errors_;
            if (!rx_.empty()) {
                lsr |= kLsrDr;
            }
            lsr_errors_ = 0;
            return lsr;
        }
        case kMsr: {
            const std::uint8_t msr = modem_status() | msr_delta_;
            msr_delta_ = 0;
            return msr;
        }
        case kScr:
            return scr_;
        default:
            return 0xff;
    }
}

void Serial8250::write_register(unsigned reg, std::uint8_t value, TxBuffer& tx) {
    const bool dlab = (lcr_ & kLcrDlab) != 0;
    switch (reg) {
        case kRbrThr:
            if (dlab) {
                divisor_ = static_cast<std::uint16_t>((divisor_ & 0xff00) | value);
                return;
            }
            if ((mcr_ & kMcrLoop) != 0) {
                if (rx_.size() < rx_capacity_) {
                    rx_.push_back(value);
                } else {
                    lsr_errors_ |= kLsrOe;
                    ++overruns_;
                }
            } else {
                tx.bytes[tx.count++] = value;
            }
            thri_pending_ = true;  // the byte left at once: THR is empty again
            return;
        case kIer:
            if (dlab) {
                divisor_ = static_cast<std::uint16_t>((divisor_ & 0x00ff) | (value << 8));
                return;
            }
            if ((value & kIerThri) != 0 && (ier_ & kIerThri) == 0) {
                thri_pending_ = true;  // enabling THRE interrupts with THR empty raises one
            }
            ier_ = value & 0x0f;
            return;
        case kIirFcr:
            if ((value & kFcrClearRx) != 0 || ((value ^ fcr_) & kFcrEnable) != 0) {
                rx_.clear();
                rx_was_full_ = false;
            }
            fcr_ = value & static_cast<std::uint8_t>(~(kFcrClearRx | kFcrClearTx));
            return;
        case kLcr:
            lcr_ = value;
            return;
        case kMcr: {
            const std::uint8_t before = modem_status();
            mcr_ = value & 0x1f;
            const std::uint8_t after = modem_status();
            const std::uint8_t changed = before ^ after;
            msr_delta_ |= (changed & kMsrCts) != 0 ? kMsrDcts : 0;
            msr_delta_ |= (changed & kMsrDsr) != 0 ? kMsrDdsr : 0;
            msr_delta_ |= (changed & kMsrDcd) != 0 ? kMsrDdcd : 0;
            // Trailing edge of RI.
            msr_delta_ |= ((before & kMsrRi) != 0 && (after & kMsrRi) == 0) ? kMsrTeri : 0;
            return;
        }
        case kScr:
            scr_ = value;
            return;
        default:
            return;  // LSR and MSR are read-only
    }
}

void Serial8250::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    std::function<void()> after;
    {
        const std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < data.size(); ++i) {
            const auto reg = offset + i;
            data[i] = reg < kRegisters ? read_register(static_cast<unsigned>(reg), after) : 0xff;
        }
        update_irq();
    }
    if (after) {
        after();
    }
}

void Serial8250::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    TxBuffer tx;
    {
        const std::lock_guard lock(mutex_);
        for (std::size_t i = 0; i < data.size() && i < tx.bytes.size(); ++i) {
            const auto reg = offset + i;
            if (reg < kRegisters) {
                write_register(static_cast<unsigned>(reg), data[i], tx);
            }
        }
        update_irq();
    }
    if (tx.count > 0 && tx_) {
        tx_(std::span(tx.bytes.data(), tx.count));
    }
}

}  // namespace mvmm
