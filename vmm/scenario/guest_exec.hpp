// Running a program in the guest through the control socket's guest-exec
// commands, which forward to the guest agent's guest-exec and
// guest-exec-status (docs/control-protocol.md, docs/guest-agent.md).
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
    bool truncated = false;
};

// Reads a guest-exec-status reply. Output comes base64-encoded in
// "out-data"/"err-data" (qemu-guest-agent's shape) or as text in
// "stdout"/"stderr". Throws Error on a malformed reply.
ExecStatus parse_exec_status(const nlohmann::json& reply);

// Standard base64 (RFC 4648), padding optional; throws Error on bad input.
std::string base64_decode(std::string_view text);

}  // namespace mvmm::scenario::detail
