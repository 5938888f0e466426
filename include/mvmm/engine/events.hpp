// What an engine tells the rest of the VMM: state changes and guest events.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mvmm {

// The VM's run state, with QMP's names (see to_string).
enum class RunState {
    prelaunch,       // created, not started
    running,         // vCPUs run
    paused,          // vCPUs stopped by the VMM (stop)
    shutdown,        // the guest ended: power-off, reboot, reset, triple fault
    guest_panicked,  // the guest kernel panicked
    internal_error,  // the engine failed (emulation failure, QEMU died, ...)
};

// "prelaunch", "running", "paused", "shutdown", "guest-panicked", "internal-error".
std::string_view to_string(RunState state);

struct EngineEvent {
    enum class Kind {
        stop,           // vCPUs paused (STOP)
        resume,         // vCPUs resumed (RESUME)
        reset,          // the guest asked for a reset or reboot (RESET)
        shutdown,       // the guest ended (SHUTDOWN)
        panic,          // the guest kernel panicked (GUEST_PANICKED)
        engine_crash,   // the engine itself failed; `reason` says how
        boot_complete,  // the guest wrote the boot-complete marker
    };
    Kind kind = Kind::shutdown;
    // Machine-readable cause, e.g. "guest-reset", "triple-fault", "host-qmp-quit",
    // "emulation-failure", "qemu-exited".
    std::string reason;
    // Extra event data, e.g. {"seconds": 1.9} for boot_complete or the tail of
    // QEMU's stderr for engine_crash.
    nlohmann::json data = nlohmann::json::object();
    std::chrono::system_clock::time_point when = std::chrono::system_clock::now();
};

// The QMP event name: "STOP", "RESUME", "RESET", "SHUTDOWN", "GUEST_PANICKED",
// and for the project's own events MSHARE_<NAME> (see docs/control-protocol.md).
std::string_view qmp_event_name(EngineEvent::Kind kind);

}  // namespace mvmm
