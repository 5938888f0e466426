#include "guest_exec.hpp"

#include <cmath>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::scenario::detail {

using nlohmann::json;

json guest_exec_arguments(const Step& step, std::optional<double> timeout_seconds) {
    json args = {{"path", step.path}, {"capture-output", true}};
    if (!step.args.empty()) {
        args["args"] = step.args;
    }
    if (!step.env.empty()) {
        args["env"] = step.env;
    }
    if (timeout_seconds) {
        args["timeout"] = static_cast<std::int64_t>(std::ceil(*timeout_seconds));
    }
    return args;
}

std::uint64_t guest_exec_id(const json& reply) {
    if (!reply.is_object() || !reply.contains("exec-id") || !reply["exec-id"].is_number_integer() ||
        reply["exec-id"].get<std::int64_t>() < 0) {
        throw Error(cat("guest-exec reply has no exec id: ", reply.dump()));
    }
    return reply["exec-id"].get<std::uint64_t>();
}

namespace {

std::optional<int> optional_int(const json& reply, const char* key) {
    if (!reply.contains(key) || reply[key].is_null()) {
        return std::nullopt;
    }
    if (!reply[key].is_number_integer()) {
        throw Error(cat("guest-exec-status reply: ", key, " is not an integer: ", reply.dump()));
    }
    return reply[key].get<int>();
}

std::string text(const json& reply, const char* key) {
    if (!reply.contains(key) || reply[key].is_null()) {
        return {};
    }
    if (!reply[key].is_string()) {
        throw Error(cat("guest-exec-status reply: ", key, " is not a string: ", reply.dump()));
    }
    return reply[key].get<std::string>();
}

}  // namespace

ExecStatus parse_exec_status(const json& reply) {
    if (!reply.is_object() || !reply.contains("exited") || !reply["exited"].is_boolean()) {
        throw Error(cat("guest-exec-status reply has no 'exited' flag: ", reply.dump()));
    }
    ExecStatus s;
    s.exited = reply["exited"].get<bool>();
    s.exit_code = optional_int(reply, "exit-code");
    s.signal = optional_int(reply, "signal");
    s.stdout_text = text(reply, "stdout");
    s.stderr_text = text(reply, "stderr");
    return s;
}

}  // namespace mvmm::scenario::detail
