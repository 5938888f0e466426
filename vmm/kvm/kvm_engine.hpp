// The KVM engine: guest RAM in a memfd, the kernel loaded by the loader,
// legacy devices on a port bus, the in-kernel irqchip and PIT, and one
// thread per vCPU. Private to the KVM engine library; others see it as an
// Engine (and its KvmView).
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <latch>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <pthread.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/config/vm_config.hpp>
#include <mvmm/devices/io_bus.hpp>
#include <mvmm/devices/serial8250.hpp>
#include <mvmm/devices/serial_socket.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/engine.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/kvm/host_check.hpp>
#include <mvmm/memory/guest_ram.hpp>

#include "binary_stats.hpp"
#include "kvm_handles.hpp"

namespace mvmm::kvm {

class KvmEngine final : public Engine, public KvmView {
  public:
    // `emulated_cpl0`: this host runs guest kernel code in KVM's instruction
    // emulator (the host check failed); the engine then adds the kernel
    // command-line workarounds and handles INT3 emulation failures.
    KvmEngine(const EngineSetup& setup, std::string selection_reason, bool emulated_cpl0);
    ~KvmEngine() override;
    KvmEngine(const KvmEngine&) = delete;
    KvmEngine& operator=(const KvmEngine&) = delete;

    // Engine
    [[nodiscard]] std::string_view name() const override { return "kvm"; }
    [[nodiscard]] std::string selection_reason() const override { return selection_reason_; }
    void set_event_handler(EventHandler handler) override;
    void start() override;
    void pause() override;
    void resume() override;
    void stop() override;
    RunState wait() override;
    [[nodiscard]] RunState state() const override;
    [[nodiscard]] const PhysView& memory() const override;
    [[nodiscard]] unsigned vcpu_count() const override { return config_.vcpus; }
    [[nodiscard]] SpecialRegisters special_registers(unsigned vcpu) override;
    [[nodiscard]] KvmView* kvm() override { return this; }

    // KvmView
    nlohmann::json statistics() override;
    void dirty_log_mark() override;
    std::vector<std::uint64_t> dirty_log_collect() override;

    // The command line the guest got (after start()).
    [[nodiscard]] const std::string& kernel_cmdline() const noexcept { return cmdline_; }

  private:
    struct Vcpu {
        std::unique_ptr<kvm::Vcpu> handle;
        std::unique_ptr<BinaryStats> stats;
        pthread_t thread{};
        bool alive = false;                          // its thread runs (guarded by mutex_)
        std::deque<std::function<void()>> requests;  // run on its thread (guarded by mutex_)
        std::atomic<bool> has_requests{false};
    };

    void create_vm();
    void create_devices();
    void create_vcpus();
    void vcpu_loop(unsigned index);
    // Handles one exit; returns false when the vCPU must stop.
    bool handle_exit(unsigned index);
    bool handle_emulation_failure(unsigned index);
    void serve_requests(unsigned index, std::unique_lock<std::mutex>& lock);
    // Runs `work` on vCPU `index`'s thread (or here, if that thread is gone or is this one).
    void on_vcpu(unsigned index, const std::function<void()>& work);
    void kick_all();

    // Ends the VM (first caller wins): final state, events, all vCPUs stop.
    void end_guest(RunState final_state, const EngineEvent& event);
    // Ends the VM as internal-error: logs "vCPU n: message" and emits
    // MSHARE_ENGINE_CRASH with the reason, data, vcpu and that message.
    void engine_failed(unsigned index, const char* reason, const std::string& message,
                       nlohmann::json data);
    void guest_reset(const char* reason);
    void guest_panicked(const std::string& source, const std::string& message);
    void emit(const EngineEvent& event);

    void on_console(std::span<const std::uint8_t> bytes);
    void on_marker(std::uint8_t byte);

    VmConfig config_;
    ConsoleSink& console_;
    std::filesystem::path runtime_dir_;
    std::string selection_reason_;
    bool emulated_cpl0_;
    std::string cmdline_;
    Stopwatch since_start_;

    std::optional<kvm::System> system_;
    std::optional<kvm::Vm> vm_;
    std::optional<GuestRam> ram_;
    std::unique_ptr<BinaryStats> vm_stats_;
    std::vector<std::uint32_t> slot_flags_;

    IoBus pio_{"port I/O"};
    IoBus mmio_{"MMIO"};
    std::shared_ptr<Serial8250> com1_;
    std::shared_ptr<Serial8250> com2_;
    std::unique_ptr<SerialSocketBridge> agent_;

    // Console scan for panics (COM1 bytes may come from any vCPU).
    std::mutex console_mutex_;
    std::string console_line_;

    // Run state and vCPU control.
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    RunState state_ = RunState::prelaunch;
    bool ended_ = false;
    bool panicked_ = false;
    bool boot_marked_ = false;
    unsigned parked_ = 0;
    unsigned exited_ = 0;
    std::atomic<bool> stop_requested_{false};
    std::atomic<bool> pause_requested_{false};
    EventHandler handler_;
    std::uint64_t int3_injections_ = 0;   // guarded by mutex_
    std::uint64_t fwait_emulations_ = 0;  // guarded by mutex_

    std::mutex dirty_mutex_;
    bool dirty_logging_ = false;
    std::vector<std::vector<std::uint64_t>> dirty_bitmaps_;  // accumulated, per slot

    std::vector<std::unique_ptr<Vcpu>> vcpus_;
    std::unique_ptr<std::latch> go_;
    std::vector<std::jthread> threads_;
};

}  // namespace mvmm::kvm
