// Events as the control socket sends them: QEMU's names for QEMU's events
// (SHUTDOWN, STOP, RESUME, RESET, GUEST_PANICKED) with QEMU's data, and
// MSHARE_<NAME> for the project's own.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include <mvmm/engine/events.hpp>

namespace mvmm::control {

// The guest agent answered its first request (published by whoever owns the
// agent connection, not by an engine).
inline constexpr std::string_view kAgentReadyEvent = "MSHARE_AGENT_READY";

struct QmpEvent {
    std::string name;
    nlohmann::json data = nlohmann::json::object();
    std::chrono::system_clock::time_point when;
};

// An engine event as QMP has it. SHUTDOWN and RESET get {"guest", "reason"},
// GUEST_PANICKED {"action": "pause"} plus the engine's data as "info", the
// project's events {"reason"} (when there is one) plus the engine's data.
QmpEvent to_qmp_event(const EngineEvent& event);

}  // namespace mvmm::control
