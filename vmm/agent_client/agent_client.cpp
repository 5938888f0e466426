#include <array>
#include <cerrno>
#include <cstring>
#include <random>
#include <thread>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/agent/base64.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::agent {
namespace {

using nlohmann::json;

int ms_until(std::chrono::steady_clock::time_point deadline) {
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    return static_cast<int>(std::max<long long>(0, std::min<long long>(left.count(), 60000)));
}

double seconds(std::chrono::milliseconds d) {
    return static_cast<double>(d.count()) / 1000.0;
}

ExecResult parse_exec_status(pid_t pid, const json& status) {
    ExecResult r;
    r.pid = pid;
    if (status.contains("exitcode")) {
        r.exit_code = status["exitcode"].get<int>();
    }
    if (status.contains("signal")) {
        r.signal = status["signal"].get<int>();
    }
    r.timed_out = status.value("timed-out", false);
    r.out_truncated = status.value("out-truncated", false);
    r.err_truncated = status.value("err-truncated", false);
    const auto decode = [&](const char* key) {
        const auto text = status.value(key, std::string());
        auto data = base64_decode(text);
        if (!data) {
            throw Error(
                cat("guest agent: guest-exec-status of pid ", pid, ": '", key, "' is not base64"));
        }
        return std::move(*data);
    };
    r.out = decode("out-data");
    r.err = decode("err-data");
    return r;
}

}  // namespace

AgentError::AgentError(const std::string& command, std::string error_class, std::string desc)
    : Error("guest agent: " + command + " failed: " + desc + " (" + error_class + ")"),
      class_(std::move(error_class)),
      desc_(std::move(desc)) {}

std::string ExecResult::describe() const {
    std::string text;
    if (exit_code) {
        text = cat("exit code ", *exit_code);
    } else if (signal) {
        text = cat("signal ", *signal);
    } else {
        text = "unknown status";
    }
    if (timed_out) {
        text += " (killed at its time limit)";
    }
    return text;
}

AgentClient::AgentClient(std::filesystem::path socket) : socket_(std::move(socket)) {}

bool AgentClient::connected() const {
    std::lock_guard lock(mutex_);
    return fd_.valid();
}

void AgentClient::disconnect() {
    std::lock_guard lock(mutex_);
    fd_.reset();
    synced_ = false;
}

bool AgentClient::take_ready_event() {
    std::lock_guard lock(mutex_);
    return std::exchange(ready_event_, false);
}

void AgentClient::connect_once() {
    fd_.reset();
    synced_ = false;
    splitter_.reset();
    items_.clear();
    next_item_ = 0;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket_.string();
    if (path.size() >= sizeof addr.sun_path) {
        throw Error("guest agent socket " + quote(path) + ": path too long for a UNIX socket");
    }
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (!fd) {
        throw_errno("guest agent socket " + quote(path) + ": socket");
    }
    if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        throw_errno("guest agent socket " + quote(path) + ": connect");
    }
    fd_ = std::move(fd);
}

void AgentClient::send(std::string_view bytes, Clock::time_point deadline,
                       const std::string& what) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd_.get(), POLLOUT, 0};
            if (::poll(&p, 1, ms_until(deadline)) == 0 && Clock::now() >= deadline) {
                throw Error("guest agent socket " + quote(socket_.string()) + ": sending " + what +
                            " timed out (the VMM is not reading)");
            }
            continue;
        }
        const int err = errno;
        fd_.reset();
        synced_ = false;
        throw_errno("guest agent socket " + quote(socket_.string()) + ": sending " + what, err);
    }
}

std::optional<json> AgentClient::next_message(Clock::time_point deadline, const std::string& what,
                                              bool fail_at_delimiter) {
    for (;;) {
        while (next_item_ < items_.size()) {
            auto& item = items_[next_item_++];
            switch (item.kind) {
                case JsonStreamSplitter::Item::Kind::delimiter:
                    if (fail_at_delimiter) {
                        // The agent started again: the reply to `what` is lost.
                        synced_ = false;
                        throw Error("guest agent restarted while running " + what);
                    }
                    break;
                case JsonStreamSplitter::Item::Kind::error:
                    break;  // echo or line noise
                case JsonStreamSplitter::Item::Kind::message: {
                    json msg = json::parse(item.text, nullptr, false);
                    if (msg.is_discarded() || !msg.is_object()) {
                        break;
                    }
                    if (msg.contains("event")) {
                        if (msg["event"] == kReadyEvent) {
                            ready_event_ = true;
                        }
                        break;
                    }
                    return msg;
                }
            }
        }
        items_.clear();
        next_item_ = 0;
        const int wait = ms_until(deadline);
        pollfd p{fd_.get(), POLLIN, 0};
        const int rc = ::poll(&p, 1, wait);
        if (rc < 0 && errno == EINTR) {
            continue;
        }
        if (rc == 0) {
            if (Clock::now() >= deadline) {
                return std::nullopt;
            }
            continue;
        }
        std::array<char, 65536> buf{};
        const ssize_t n = ::recv(fd_.get(), buf.data(), buf.size(), 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
            continue;
        }
        if (n <= 0) {
            const std::string reason = n == 0 ? "connection closed by the VMM" : errno_text(errno);
            fd_.reset();
            synced_ = false;
            throw Error(cat("guest agent socket ", quote(socket_.string()), ": ", reason,
                            " while waiting for ", what));
        }
        splitter_.feed(std::string_view(buf.data(), static_cast<std::size_t>(n)), items_);
    }
}

bool AgentClient::try_sync(Clock::time_point deadline) {
    static thread_local std::mt19937_64 rng{std::random_device{}()};
    const auto token = static_cast<std::int64_t>(rng() >> 2);
    const json request{{"execute", kSyncDelimited}, {"arguments", {{"id", token}}}};
    // The leading delimiter makes the agent drop any partial input.
    send(std::string(1, kDelimiter) + request.dump() + "\n", deadline, kSyncDelimited);
    while (auto msg = next_message(deadline, kSyncDelimited, false)) {
        if (msg->contains("return") && (*msg)["return"] == token) {
            synced_ = true;
            return true;
        }
    }
    return false;
}

void AgentClient::wait_ready(Duration timeout) {
    std::lock_guard lock(mutex_);
    const auto deadline = Clock::now() + timeout;
    std::string last_problem = "no answer to " + std::string(kSyncDelimited);
    while (Clock::now() < deadline) {
        try {
            if (!fd_) {
                connect_once();
            }
            // Each attempt waits up to a second: the agent may not be running yet,
            // and what we sent before it ran is lost.
            const auto attempt = std::min(deadline, Clock::now() + std::chrono::seconds(1));
            if (try_sync(attempt)) {
                return;
            }
        } catch (const Error& e) {
            last_problem = e.what();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    throw Error(cat("guest agent at ", quote(socket_.string()), ": not ready after ",
                    seconds(timeout), " s (", last_problem, ")"));
}

json AgentClient::execute_locked(const std::string& command, const json& arguments,
                                 Duration timeout) {
    const auto deadline = Clock::now() + timeout;
    if (!fd_) {
        connect_once();
    }
    if (!synced_ && !try_sync(deadline)) {
        throw Error(cat("guest agent at ", quote(socket_.string()), ": no answer to ",
                        kSyncDelimited, " before running ", command));
    }
    const auto id = next_id_++;
    json request{{"execute", command}, {"id", id}};
    if (!arguments.empty()) {
        request["arguments"] = arguments;
    }
    send(request.dump() + "\n", deadline, command);
    while (auto msg = next_message(deadline, command, true)) {
        if (!msg->contains("id") || (*msg)["id"] != id) {
            continue;  // a late reply to an earlier, timed-out command
        }
        if (msg->contains("error")) {
            const auto& e = (*msg)["error"];
            throw AgentError(command, e.value("class", std::string(kGenericError)),
                             e.value("desc", std::string("(no description)")));
        }
        if (!msg->contains("return")) {
            throw Error("guest agent: reply to " + command + " has neither 'return' nor 'error'");
        }
        return (*msg)["return"];
    }
    synced_ = false;  // its reply may still come; resynchronise next time
    throw Error(cat("guest agent: no reply to ", command, " within ", seconds(timeout), " s"));
}

json AgentClient::execute(const std::string& command, const json& arguments, Duration timeout) {
    std::lock_guard lock(mutex_);
    return execute_locked(command, arguments, timeout);
}

pid_t AgentClient::exec_start(const ExecRequest& request) {
    json args{{"path", request.path},       {"arg", request.args},
              {"env", request.env},         {"capture-output", request.capture},
              {"timeout", request.timeout}, {"output-limit", request.output_limit}};
    if (request.input) {
        args["input-data"] = base64_encode(*request.input);
    }
    const auto reply = execute(kExec, args);
    return reply.at("pid").get<pid_t>();
}

std::optional<ExecResult> AgentClient::exec_status(pid_t pid) {
    const auto reply = execute(kExecStatus, json{{"pid", pid}}, std::chrono::seconds(60));
    if (!reply.value("exited", false)) {
        return std::nullopt;
    }
    return parse_exec_status(pid, reply);
}

ExecResult AgentClient::exec(const ExecRequest& request, std::optional<Duration> timeout) {
    const auto limit = timeout.value_or(
        std::chrono::ceil<Duration>(std::chrono::duration<double>(request.timeout + 30.0)));
    const auto deadline = Clock::now() + limit;
    const pid_t pid = exec_start(request);
    auto pause = std::chrono::milliseconds(5);
    for (;;) {
        if (auto result = exec_status(pid)) {
            return *result;
        }
        if (Clock::now() >= deadline) {
            throw Error(cat("guest agent: ", quote(request.path), " (pid ", pid,
                            ") still running after ", seconds(limit), " s"));
        }
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, Duration(200));
    }
}

std::string AgentClient::read_file(const std::string& path, std::size_t max_bytes) {
    const auto reply = execute(kFileRead, json{{"path", path}, {"count", max_bytes}});
    auto data = base64_decode(reply.at("buf-b64").get<std::string>());
    if (!data) {
        throw Error("guest agent: guest-file-read of " + quote(path) + ": reply is not base64");
    }
    return std::move(*data);
}

void AgentClient::shutdown(const std::string& mode) {
    execute(kShutdown, json{{"mode", mode}});
    disconnect();
}

}  // namespace mvmm::agent
