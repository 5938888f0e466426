#include <utility>

#include <mvmm/agent/base64.hpp>
#include <mvmm/common/clock.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/guest_services/agent_service.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::guest_services {
namespace {

using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;

// How long one handshake attempt of the waiting thread lasts; also how long
// stop() may wait for it.
constexpr auto kAttempt = std::chrono::seconds(1);

// A program's output from a guest-exec-status reply (base64 there).
std::string decoded(const json& reply, const char* key) {
    const auto text = reply.value(key, std::string());
    auto data = agent::base64_decode(text);
    if (!data) {
        throw Error(cat("guest agent: guest-exec-status reply: '", key, "' is not base64"));
    }
    return std::move(*data);
}

}  // namespace

AgentService::AgentService(std::filesystem::path socket, ReadyHandler on_ready)
    : socket_(std::move(socket)), on_ready_(std::move(on_ready)), client_(socket_) {}

AgentService::~AgentService() {
    stop();
}

void AgentService::after_engine_start(VmSession& /*session*/) {
    start_waiting();
}

void AgentService::start_waiting() {
    if (waiter_.joinable()) {
        return;
    }
    waiter_ = std::jthread([this](const std::stop_token& stop) { wait_for_agent(stop); });
}

void AgentService::stop() noexcept {
    stopped_ = true;
    if (waiter_.joinable()) {
        waiter_.request_stop();
        waiter_.join();
    }
}

void AgentService::wait_for_agent(const std::stop_token& stop) {
    agent::AgentClient probe(socket_);
    while (!stop.stop_requested()) {
        try {
            probe.wait_ready(kAttempt);
        } catch (const Error&) {
            // Not up yet (or another client holds the socket): hang up, so a
            // connection waiting behind ours is not held, and try again.
            probe.disconnect();
            continue;
        }
        probe.disconnect();
        const double seconds = process_uptime_seconds();
        ready_ = true;
        log::info("agent", "the guest agent answered at ", quote(socket_.string()), " after ",
                  seconds, " s");
        if (on_ready_) {
            try {
                on_ready_(seconds);
            } catch (const std::exception& e) {
                log::error("agent", "reporting the agent ready: ", e.what());
            }
        }
        return;
    }
}

void AgentService::require_ready() const {
    if (stopped_) {
        throw CommandError(ErrorClass::device_not_active,
                           "the guest agent is not connected: the VM is ending");
    }
    if (!ready_) {
        throw CommandError(ErrorClass::device_not_active,
                           cat("the guest agent is not connected (yet): no answer at ",
                               quote(socket_.string()), " so far"));
    }
}

json AgentService::execute(const std::string& command, const json& arguments,
                           std::chrono::milliseconds timeout) {
    require_ready();
    const std::lock_guard lock(mutex_);
    try {
        auto reply = client_.execute(command, arguments, timeout);
        client_.disconnect();
        return reply;
    } catch (const agent::AgentError& e) {
        client_.disconnect();
        throw CommandError(ErrorClass::generic_error, e.what());
    } catch (const Error& e) {
        client_.disconnect();
        throw CommandError(ErrorClass::device_not_active,
                           cat(e.what(),
                               " (the agent socket takes one client at a time; is "
                               "another program connected to it?)"));
    }
}

std::uint64_t AgentService::exec(const ExecRequest& request) {
    json args{{"path", request.path},
              {"arg", request.args},
              {"env", request.env},
              {"capture-output", request.capture_output}};
    if (request.timeout_seconds > 0) {
        args["timeout"] = request.timeout_seconds;
    }
    const auto reply = execute(std::string(agent::kExec), args);
    if (!reply.contains("pid") || !reply["pid"].is_number_integer() ||
        reply["pid"].get<std::int64_t>() <= 0) {
        throw Error("guest agent: guest-exec reply has no pid: " + reply.dump());
    }
    return reply["pid"].get<std::uint64_t>();
}

json AgentService::exec_status(std::uint64_t exec_id) {
    const auto reply =
        execute(std::string(agent::kExecStatus), json{{"pid", exec_id}}, std::chrono::seconds(60));
    if (!reply.value("exited", false)) {
        return {{"exited", false}};
    }
    json out{{"exited", true},
             {"stdout", decoded(reply, "out-data")},
             {"stderr", decoded(reply, "err-data")}};
    for (const auto& [from, to] : {std::pair{"exitcode", "exit-code"}, {"signal", "signal"}}) {
        if (reply.contains(from) && reply[from].is_number_integer()) {
            out[to] = reply[from];
        }
    }
    out["timed-out"] = reply.value("timed-out", false);
    const bool out_cut = reply.value("out-truncated", false);
    const bool err_cut = reply.value("err-truncated", false);
    if (out_cut || err_cut) {
        out["stdout-truncated"] = out_cut;
        out["stderr-truncated"] = err_cut;
    }
    return out;
}

json AgentService::meminfo() {
    return execute(std::string(agent::kMeminfo));
}

}  // namespace mvmm::guest_services
