// Running a program in the guest through the control socket's guest-exec
// commands, which forward to the guest agent's guest-exec and
// guest-exec-status (docs/control-protocol.md).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include <mvmm/scenario/scenario.hpp>

namespace mvmm::scenario::detail {

// The arguments of the guest-exec command for an exec step; `timeout_seconds`
// lets the agent end the program itself when the step's time is up.
nlohmann::json guest_exec_arguments(const Step& step, std::optional<double> timeout_seconds);

// The exec id in guest-exec's reply. Throws Error if there is none.
std::uint64_t guest_exec_id(const nlohmann::json& reply);

struct ExecStatus {
    bool exited = false;
    std::optional<int> exit_code;
    std::optional<int> signal;
    std::string stdout_text;
    std::string stderr_text;
};

// Reads a mshare-guest-exec-status reply: "exited", then "exit-code" or
// "signal", "stdout", "stderr". Throws Error on a malformed reply.
ExecStatus parse_exec_status(const nlohmann::json& reply);

}  // namespace mvmm::scenario::detail
