#include <cerrno>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/qemu/qmp_client.hpp>

namespace mvmm {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxMessageBytes = 64ULL * 1024 * 1024;

// Takes one complete line (without "\r\n") off the front of `buffer`, if there is one.
std::optional<std::string> take_line(std::string& buffer) {
    const auto end = buffer.find('\n');
    if (end == std::string::npos) {
        return std::nullopt;
    }
    std::string line = buffer.substr(0, end);
    buffer.erase(0, end + 1);
    if (!line.empty() && line.back() == '\r') {
        line.pop_back();
    }
    return line;
}

}  // namespace

QmpClient::QmpClient(UniqueFd socket, std::string peer, EventHandler on_event,
                     CloseHandler on_close, std::chrono::milliseconds timeout)
    : socket_(std::move(socket)),
      peer_(std::move(peer)),
      on_event_(std::move(on_event)),
      on_close_(std::move(on_close)) {
    const auto deadline = Clock::now() + timeout;
    const json hello = read_message_blocking(deadline);
    if (!hello.contains("QMP") || !hello["QMP"].is_object()) {
        throw Error(cat(peer_, ": expected a QMP greeting, got ", hello.dump()));
    }
    greeting_ = hello["QMP"];
    send({{"execute", "qmp_capabilities"}, {"id", 0}});
    for (;;) {
        const json reply = read_message_blocking(deadline);
        if (reply.contains("event")) {
            continue;  // not sent before negotiation, but harmless
        }
        if (reply.contains("error")) {
            throw Error(cat(peer_, ": qmp_capabilities failed: ", reply["error"].dump()));
        }
        break;
    }
    reader_ = std::jthread([this](const std::stop_token& stop) {
        reader_id_.store(std::this_thread::get_id());
        reader_loop(stop);
    });
}

QmpClient::~QmpClient() {
    reader_.request_stop();
    ::shutdown(socket_.get(), SHUT_RDWR);  // wakes the reader
    if (reader_.joinable()) {
        reader_.join();
    }
}

bool QmpClient::closed() const {
    const std::lock_guard lock(mutex_);
    return closed_;
}

void QmpClient::send(const json& message) {
    const std::string text = message.dump() + "\n";
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n =
            ::send(socket_.get(), text.data() + done, text.size() - done, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(cat(peer_, ": sending a QMP message"));
        }
        done += static_cast<std::size_t>(n);
    }
}

json QmpClient::read_message_blocking(Clock::time_point deadline) {
    for (;;) {
        if (auto line = take_line(buffer_)) {
            if (trim(*line).empty()) {
                continue;
            }
            try {
                return json::parse(*line);
            } catch (const json::parse_error& e) {
                throw Error(cat(peer_, ": invalid QMP message ", quote(*line), ": ", e.what()));
            }
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            throw Error(cat(peer_, ": QMP handshake did not finish within the time limit"));
        }
        pollfd pfd{socket_.get(), POLLIN, 0};
        const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (r < 0 && errno != EINTR) {
            throw_errno(cat(peer_, ": poll"));
        }
        if (r <= 0) {
            continue;
        }
        char chunk[4096];
        const ssize_t n = ::read(socket_.get(), chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                continue;
            }
            throw_errno(cat(peer_, ": reading QMP"));
        }
        if (n == 0) {
            throw Error(cat(peer_, ": closed the QMP connection"));
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
        if (buffer_.size() > kMaxMessageBytes) {
            throw Error(cat(peer_, ": QMP message larger than ", human_bytes(kMaxMessageBytes)));
        }
    }
}

void QmpClient::reader_loop(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
        while (auto line = take_line(buffer_)) {
            if (trim(*line).empty()) {
                continue;
            }
            json message;
            try {
                message = json::parse(*line);
            } catch (const json::parse_error&) {
                log::warn("qmp", peer_, ": ignoring a line that is not JSON: ", quote(*line));
                continue;
            }
            if (message.is_object()) {
                dispatch(message);
            }
        }
        char chunk[16384];
        const ssize_t n = ::read(socket_.get(), chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || buffer_.size() > kMaxMessageBytes) {
            break;
        }
        buffer_.append(chunk, static_cast<std::size_t>(n));
    }
    {
        const std::lock_guard lock(mutex_);
        closed_ = true;
    }
    cv_.notify_all();
    if (on_close_) {
        on_close_();
    }
}

void QmpClient::dispatch(const json& message) {
    if (message.contains("event")) {
        if (on_event_) {
            on_event_(message);
        }
        return;
    }
    if (!message.contains("id") || !message["id"].is_number_unsigned()) {
        log::debug("qmp", peer_, ": ignoring a reply without our id: ", message.dump());
        return;
    }
    {
        const std::lock_guard lock(mutex_);
        if (message["id"].get<std::uint64_t>() != waiting_id_) {
            return;  // a reply to a command that timed out
        }
        reply_ = message;
    }
    cv_.notify_all();
}

json QmpClient::execute(std::string_view command, const json& arguments,
                        std::chrono::milliseconds timeout) {
    if (std::this_thread::get_id() == reader_id_.load()) {
        throw Error(cat(peer_, ": QMP command ", quote(command),
                        " issued from the event handler (it would wait for itself)"));
    }
    const std::lock_guard command_lock(command_mutex_);
    std::uint64_t id = 0;
    {
        const std::lock_guard lock(mutex_);
        if (closed_) {
            throw Error(cat(peer_, ": QMP command ", quote(command), ": the connection is closed"));
        }
        id = next_id_++;
        waiting_id_ = id;
        reply_.reset();
    }
    json message = {{"execute", command}, {"id", id}};
    if (!arguments.empty()) {
        message["arguments"] = arguments;
    }
    send(message);
    std::unique_lock lock(mutex_);
    const bool done = cv_.wait_for(lock, timeout, [this] { return reply_.has_value() || closed_; });
    waiting_id_ = 0;
    if (!reply_) {
        throw Error(cat(peer_, ": QMP command ", quote(command),
                        done ? ": the connection closed before the reply"
                             : cat(": no reply within ", timeout.count(), " ms")));
    }
    const json reply = std::move(*reply_);
    reply_.reset();
    if (reply.contains("error")) {
        const auto& err = reply["error"];
        throw Error(cat(peer_, ": QMP command ", quote(command), ": ",
                        err.value("class", std::string("Error")), ": ",
                        err.value("desc", std::string("(no description)"))));
    }
    return reply.value("return", json::object());
}

std::string QmpClient::human_monitor_command(std::string_view command_line,
                                             std::chrono::milliseconds timeout) {
    const json result = execute("human-monitor-command", {{"command-line", command_line}}, timeout);
    if (!result.is_string()) {
        throw Error(
            cat(peer_, ": human-monitor-command ", quote(command_line), ": reply is not a string"));
    }
    return result.get<std::string>();
}

}  // namespace mvmm
