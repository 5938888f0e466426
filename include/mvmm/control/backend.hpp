// What the control socket needs from the rest of the VMM, split along the
// parts that provide it. The server sees only these interfaces, so it does
// not depend on the engines, the introspection library or the guest agent.
//
// Methods run on the server's command thread, one at a time. They return
// JSON shaped as docs/control-protocol.md says, and throw
// protocol::CommandError to answer with a particular QMP error class (for
// example DeviceNotActive when the guest agent is not connected) or
// mvmm::Error for a GenericError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <mvmm/engine/events.hpp>

namespace mvmm::control {

// The VM itself: run state, engine, vCPU control, console. Always present.
class VmControl {
  public:
    virtual ~VmControl() = default;
    [[nodiscard]] virtual RunState run_state() = 0;
    // {"engine": "kvm"|"qemu", "reason": "...", "vcpus": N}
    [[nodiscard]] virtual nlohmann::json engine_info() = 0;
    // Pause or resume the vCPUs; return once done. The engine reports STOP and
    // RESUME through its events.
    virtual void pause() = 0;
    virtual void resume() = 0;
    // Ask the VMM to end. Returns at once; the VMM shuts down afterwards.
    virtual void quit() = 0;
    // The last `lines` console lines, oldest first, and the bytes seen so far.
    struct ConsoleTail {
        std::vector<std::string> lines;
        std::uint64_t bytes_total = 0;
    };
    [[nodiscard]] virtual ConsoleTail console_tail(std::size_t lines) = 0;
};

// KVM-only views. On an engine without KVM each method throws
// CommandError(KVMMissingCap) saying why.
class KvmControl {
  public:
    virtual ~KvmControl() = default;
    [[nodiscard]] virtual nlohmann::json statistics() = 0;
    virtual void dirty_log_mark() = 0;
    // {"count": N, "pfns": [...]} at least; implementations may add a
    // classification of the pages.
    [[nodiscard]] virtual nlohmann::json dirty_log_collect() = 0;
};

// The hypervisor-side view of guest memory (introspection library).
class IntrospectionControl {
  public:
    virtual ~IntrospectionControl() = default;
    [[nodiscard]] virtual nlohmann::json processes() = 0;
    // Throws CommandError(DeviceNotFound) when no process has that pid.
    [[nodiscard]] virtual nlohmann::json page_tables(std::uint64_t pid) = 0;
    [[nodiscard]] virtual nlohmann::json mshare_regions() = 0;
    [[nodiscard]] virtual nlohmann::json accounting() = 0;
};

// Requests to the guest agent. Throw CommandError(DeviceNotActive) while the
// agent is not connected.
class AgentControl {
  public:
    virtual ~AgentControl() = default;
    struct ExecRequest {
        std::string path;
        std::vector<std::string> args;
        std::vector<std::string> env;
        double timeout_seconds = 0;  // 0: the agent's default
        bool capture_output = true;
    };
    // Starts a program in the guest and returns its exec id at once.
    [[nodiscard]] virtual std::uint64_t exec(const ExecRequest& request) = 0;
    // {"exited": bool, ...}; see mshare-guest-exec-status.
    [[nodiscard]] virtual nlohmann::json exec_status(std::uint64_t exec_id) = 0;
    [[nodiscard]] virtual nlohmann::json meminfo() = 0;
};

// The parts a server answers for. Commands of a missing part are not
// registered: they answer CommandNotFound and query-commands leaves them out.
struct ControlBackend {
    VmControl* vm = nullptr;  // required
    KvmControl* kvm = nullptr;
    IntrospectionControl* introspection = nullptr;
    AgentControl* agent = nullptr;
};

}  // namespace mvmm::control
