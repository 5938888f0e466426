#include <limits>

#include <mvmm/common/strings.hpp>
#include <mvmm/control/agent_backend.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {

namespace {

using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;

// How long a command waits for an agent that is not connected yet: short,
// because callers poll (a scenario's wait_until, `ctl events`).
constexpr std::chrono::milliseconds kConnectWait{1000};

}  // namespace

AgentBackend::AgentBackend(std::filesystem::path agent_socket) : client_(std::move(agent_socket)) {}

template <typename Call>
auto AgentBackend::with_agent(const char* what, Call&& call) {
    const std::lock_guard lock(mutex_);
    if (!ready_) {
        try {
            client_.wait_ready(kConnectWait);
            ready_ = true;
        } catch (const Error& e) {
            client_.disconnect();
            throw CommandError(ErrorClass::device_not_active,
                               cat("the guest agent is not connected (", e.what(), ")"));
        }
    }
    try {
        return call();
    } catch (const agent::AgentError& e) {
        throw CommandError(ErrorClass::generic_error, cat(what, ": ", e.what()));
    } catch (const Error& e) {
        // A timeout, a lost connection or a restarted agent: start again on
        // the next command.
        ready_ = false;
        client_.disconnect();
        throw CommandError(ErrorClass::device_not_active,
                           cat(what, ": the guest agent connection failed (", e.what(), ")"));
    }
}

std::uint64_t AgentBackend::exec(const ExecRequest& request) {
    agent::ExecRequest r;
    r.path = request.path;
    r.args = request.args;
    r.env = request.env;
    r.capture = request.capture_output;
    if (request.timeout_seconds > 0) {
        r.timeout = request.timeout_seconds;
    }
    const pid_t pid = with_agent("guest-exec", [&] { return client_.exec_start(r); });
    return static_cast<std::uint64_t>(pid);
}

json AgentBackend::exec_status(std::uint64_t exec_id) {
    if (exec_id == 0 || exec_id > static_cast<std::uint64_t>(std::numeric_limits<pid_t>::max())) {
        throw CommandError(ErrorClass::device_not_found,
                           cat("no guest program with exec-id ", exec_id));
    }
    const auto status = with_agent(
        "guest-exec-status", [&] { return client_.exec_status(static_cast<pid_t>(exec_id)); });
    if (!status) {
        return {{"exited", false}};
    }
    json out = {{"exited", true},
                {"stdout", status->out},
                {"stderr", status->err},
                {"timed-out", status->timed_out}};
    if (status->exit_code) {
        out["exit-code"] = *status->exit_code;
    }
    if (status->signal) {
        out["signal"] = *status->signal;
    }
    if (status->out_truncated || status->err_truncated) {
        out["stdout-truncated"] = status->out_truncated;
        out["stderr-truncated"] = status->err_truncated;
    }
    return out;
}

json AgentBackend::meminfo() {
    return with_agent("guest-meminfo", [&] { return client_.execute("guest-meminfo"); });
}

}  // namespace mvmm::control
