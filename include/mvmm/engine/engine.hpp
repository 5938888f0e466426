// The engine interface: what runs the guest. The KVM engine and the QEMU
// engine implement it; introspection, the control socket and scenarios see
// only this.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include <mvmm/engine/events.hpp>
#include <mvmm/memory/phys_view.hpp>

namespace mvmm {

// The special registers of one vCPU that a page-table walker needs.
struct SpecialRegisters {
    std::uint64_t cr0 = 0;
    std::uint64_t cr2 = 0;
    std::uint64_t cr3 = 0;
    std::uint64_t cr4 = 0;
    std::uint64_t efer = 0;
};

// Features only the KVM engine has. Engines without them return nullptr from
// Engine::kvm(), and Engine::kvm_absent_reason() says why.
class KvmView {
  public:
    virtual ~KvmView() = default;
    // Every VM and vCPU binary statistic with its unit and type, from the
    // descriptors of KVM_GET_STATS_FD. Shape: docs/control-protocol.md.
    virtual nlohmann::json statistics() = 0;
    // Starts a dirty-log interval: clears the dirty bitmaps.
    virtual void dirty_log_mark() = 0;
    // Guest-physical page frame numbers written since the last mark.
    virtual std::vector<std::uint64_t> dirty_log_collect() = 0;
};

class Engine {
  public:
    using EventHandler = std::function<void(const EngineEvent&)>;

    virtual ~Engine() = default;

    // "kvm" or "qemu".
    [[nodiscard]] virtual std::string_view name() const = 0;
    // Why this engine was chosen (for logs and query-status), set by the factory.
    [[nodiscard]] virtual std::string selection_reason() const = 0;

    // Must be called before start(). The handler runs on an engine thread; keep it short.
    virtual void set_event_handler(EventHandler handler) = 0;

    // Boots the guest. Returns once the guest runs. Throws Error on failure.
    virtual void start() = 0;
    // Stops all vCPUs; returns once none runs guest code. No-op if paused.
    virtual void pause() = 0;
    virtual void resume() = 0;
    // Ends the guest. Idempotent; safe from any thread.
    virtual void stop() = 0;
    // Blocks until the guest has ended; returns the final state.
    virtual RunState wait() = 0;
    [[nodiscard]] virtual RunState state() const = 0;

    // Read-only guest-physical memory. Valid from start() until destruction.
    [[nodiscard]] virtual const PhysView& memory() const = 0;
    [[nodiscard]] virtual unsigned vcpu_count() const = 0;
    // Throws Error if the vCPU does not exist or the registers cannot be read.
    [[nodiscard]] virtual SpecialRegisters special_registers(unsigned vcpu) = 0;

    [[nodiscard]] virtual KvmView* kvm() { return nullptr; }
    [[nodiscard]] virtual std::string kvm_absent_reason() const { return {}; }
};

}  // namespace mvmm
