// Synthetic guests for the KVM engine tests: machine code assembled in the
// test, wrapped in a small ELF "kernel" at 2 MiB and booted by the engine
// exactly like a vmlinux (long mode, identity page tables, rsi = boot_params).
#pragma once

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <mvmm/config/vm_config.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/engine.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/kvm/host_check.hpp>
#include <mvmm/kvm/x86_asm.hpp>
#include <mvmm/loader/elf_writer.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::test {

using x86asm::Reg;

inline constexpr std::uint64_t kGuestCode = 0x200000;
inline constexpr std::uint64_t kGuestData = 0x300000;

// The host check, once per test program.
inline const KvmHostCheck& host_check() {
    static const KvmHostCheck check = check_kvm_host();
    return check;
}

#define MVMM_SKIP_WITHOUT_KVM()                                                         \
    do {                                                                                \
        if (!::mvmm::test::host_check().kvm_usable) {                                   \
            GTEST_SKIP() << "KVM is not usable: " << ::mvmm::test::host_check().reason; \
        }                                                                               \
    } while (false)

// A guest program at kGuestCode, with helpers for what the tests need.
class GuestProgram {
  public:
    explicit GuestProgram(std::uint64_t origin = kGuestCode) : a_(origin) {}
    x86asm::Assembler& a() { return a_; }

    // out 0x3f8 for each byte (the UART sends at once, so no LSR polling).
    void serial(const std::string& text, std::uint16_t port = 0x3f8) {
        a_.mov(Reg::rdx, port);
        for (char c : text) {
            a_.mov(Reg::rax, static_cast<std::uint8_t>(c));
            a_.out_dx_al();
        }
    }
    void port_out(std::uint16_t port, std::uint8_t value) {
        a_.mov(Reg::rdx, port);
        a_.mov(Reg::rax, value);
        a_.out_dx_al();
    }
    // Reset through the i8042, then halt for good.
    void reset() {
        port_out(0x64, 0xfe);
        halt_forever();
    }
    void halt_forever() {
        const auto label = next_label();
        a_.label(label);
        a_.cli();
        a_.hlt();
        a_.jmp(label);
    }
    std::string next_label() { return "l" + std::to_string(labels_++); }

    [[nodiscard]] std::vector<std::byte> elf(std::vector<ElfSegment> extra = {}) const {
        std::vector<ElfSegment> segments;
        ElfSegment code;
        code.gpa = kGuestCode;
        code.bytes = a_.finish();
        segments.push_back(std::move(code));
        for (auto& s : extra) {
            segments.push_back(std::move(s));
        }
        return make_elf_executable(segments, kGuestCode);
    }

  private:
    x86asm::Assembler a_;
    int labels_ = 0;
};

// A KVM engine running a GuestProgram, with the events it reported.
class SyntheticVm {
  public:
    explicit SyntheticVm(const GuestProgram& program, unsigned vcpus = 1,
                         std::vector<ElfSegment> extra = {})
        : SyntheticVm(program.elf(std::move(extra)), vcpus) {}

    // Boots `image` (any kernel image the loader takes).
    explicit SyntheticVm(const std::vector<std::byte>& image, unsigned vcpus = 1) {
        config_.kernel = dir_.write(
            "guest.elf", std::string(reinterpret_cast<const char*>(image.data()), image.size()));
        config_.name = "synthetic";
        config_.vcpus = vcpus;
        config_.memory_mib = 64;
        config_.engine = EngineChoice::kvm;
        config_.agent_socket = dir_.path() / "agent.sock";
        ConsoleSink::Options options;
        options.log_file = dir_.path() / "console.log";
        console_ = std::make_unique<ConsoleSink>(options);
        EngineSetup setup{config_, *console_, dir_.path()};
        setup.allow_kvm_without_user_space = true;
        engine_ = make_kvm_engine(setup);
        engine_->set_event_handler([this](const EngineEvent& e) {
            const std::lock_guard lock(mutex_);
            events_.push_back(e);
            cv_.notify_all();
        });
    }

    Engine& engine() { return *engine_; }
    ConsoleSink& console() { return *console_; }
    const VmConfig& config() const { return config_; }
    const TempDir& dir() const { return dir_; }

    // Waits (at most `limit`) until the guest has ended; returns the final state.
    std::optional<RunState> wait_end(std::chrono::seconds limit = std::chrono::seconds(60)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            const auto s = engine_->state();
            if (s == RunState::shutdown || s == RunState::internal_error ||
                (s == RunState::guest_panicked && has_event(EngineEvent::Kind::shutdown))) {
                return engine_->wait();
            }
            std::unique_lock lock(mutex_);
            cv_.wait_for(lock, std::chrono::milliseconds(10));
        }
        return std::nullopt;
    }

    std::optional<EngineEvent> wait_event(EngineEvent::Kind kind,
                                          std::chrono::seconds limit = std::chrono::seconds(60)) {
        std::unique_lock lock(mutex_);
        std::optional<EngineEvent> found;
        cv_.wait_for(lock, limit, [&] {
            for (const auto& e : events_) {
                if (e.kind == kind) {
                    found = e;
                    return true;
                }
            }
            return false;
        });
        return found;
    }

    bool has_event(EngineEvent::Kind kind) {
        const std::lock_guard lock(mutex_);
        for (const auto& e : events_) {
            if (e.kind == kind) {
                return true;
            }
        }
        return false;
    }

    std::vector<EngineEvent> events() {
        const std::lock_guard lock(mutex_);
        return events_;
    }

    std::string console_text() const {
        std::ifstream in(dir_.path() / "console.log", std::ios::binary | std::ios::ate);
        std::string text(static_cast<std::size_t>(std::max<std::streamoff>(in.tellg(), 0)), '\0');
        in.seekg(0);
        in.read(text.data(), static_cast<std::streamsize>(text.size()));
        return text;
    }

    // Waits until the console has `text` (or `limit` passed).
    bool wait_console(const std::string& text,
                      std::chrono::seconds limit = std::chrono::seconds(60)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < deadline) {
            if (console_text().find(text) != std::string::npos) {
                return true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        return false;
    }

  private:
    // Declared in the order they must outlive each other: the engine goes
    // first, as its threads write the console and report events.
    TempDir dir_;
    VmConfig config_;
    std::unique_ptr<ConsoleSink> console_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<EngineEvent> events_;
    std::unique_ptr<Engine> engine_;
};

}  // namespace mvmm::test
