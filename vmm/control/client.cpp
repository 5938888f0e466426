#include <cerrno>
#include <cstring>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string seconds_text(std::chrono::milliseconds ms) {
    return cat(static_cast<double>(ms.count()) / 1000.0, " s");
}

}  // namespace

QmpClient::QmpClient(std::filesystem::path socket) : QmpClient(std::move(socket), Options{}) {}

QmpClient::QmpClient(std::filesystem::path socket, Options options)
    : socket_(std::move(socket)), options_(options) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    const std::string path = socket_.string();
    if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
        throw Error(
            cat(name(), ": the path must be 1 to ", sizeof(addr.sun_path) - 1, " bytes long"));
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd_) {
        throw_errno(name());
    }
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
    if (::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ECONNREFUSED) {
            throw Error(cat(name(), ": ", errno_text(err), " (is the VMM running?)"));
        }
        throw_errno(name(), err);
    }
    auto first = read_message(options_.timeout);
    if (!first) {
        throw Error(cat(name(), ": no greeting within ", seconds_text(options_.timeout)));
    }
    if (!first->contains("QMP")) {
        if (first->contains("error")) {
            throw Error(cat(name(), ": the server refused the connection: ",
                            first->at("error").value("desc", "")));
        }
        throw Error(cat(name(), ": not a QMP server (unexpected greeting ", first->dump(), ")"));
    }
    greeting_ = std::move(*first);
    if (options_.negotiate) {
        negotiate();
    }
}

std::string QmpClient::name() const {
    return cat("control socket ", quote(socket_.string()));
}

void QmpClient::negotiate() {
    if (!negotiated_) {
        (void)execute("qmp_capabilities");
        negotiated_ = true;
    }
}

void QmpClient::send_raw(std::string_view bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(cat(name(), ": send"));
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

std::optional<json> QmpClient::read_message(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (messages_.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            return std::nullopt;
        }
        pollfd pfd{fd_.get(), POLLIN, 0};
        const int ready = ::poll(&pfd, 1, static_cast<int>(left.count()));
        if (ready < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(cat(name(), ": poll"));
        }
        if (ready == 0) {
            return std::nullopt;
        }
        char buffer[16384];
        const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(cat(name(), ": recv"));
        }
        if (n == 0) {
            throw Error(cat(name(), ": the server closed the connection"));
        }
        std::vector<protocol::JsonStreamSplitter::Frame> frames;
        splitter_.feed(std::string_view(buffer, static_cast<std::size_t>(n)), frames);
        for (auto& frame : frames) {
            if (frame.kind != protocol::JsonStreamSplitter::Frame::Kind::value) {
                throw Error(cat(name(), ": a message from the server is too large or too deep"));
            }
            try {
                messages_.push_back(json::parse(frame.text));
            } catch (const json::exception& e) {
                throw Error(cat(name(), ": the server sent invalid JSON: ", e.what()));
            }
        }
    }
    json message = std::move(messages_.front());
    messages_.pop_front();
    return message;
}

json QmpClient::request(json request) {
    const json id = cat("mvmm-", next_id_++);
    request["id"] = id;
    const std::string command = request.value("execute", "");
    std::string text = request.dump();
    text += "\r\n";
    send_raw(text);
    while (true) {
        auto message = read_message(options_.timeout);
        if (!message) {
            throw Error(cat(name(), ": no reply to ", quote(command), " within ",
                            seconds_text(options_.timeout)));
        }
        if (message->contains("event")) {
            events_.push_back(std::move(*message));
            continue;
        }
        const bool is_reply = message->contains("return") || message->contains("error");
        // An error without an id answers a message the server could not read.
        if (is_reply && (!message->contains("id") || message->at("id") == id)) {
            return std::move(*message);
        }
    }
}

json QmpClient::execute(std::string_view command, const json& arguments) {
    json message = {{"execute", command}};
    if (!arguments.is_null() && !arguments.empty()) {
        message["arguments"] = arguments;
    }
    json reply = request(std::move(message));
    if (const auto it = reply.find("error"); it != reply.end()) {
        const auto error_class = protocol::error_class_from_string(it->value("class", ""));
        throw protocol::CommandError(error_class.value_or(protocol::ErrorClass::generic_error),
                                     it->value("desc", "(no description)"));
    }
    return std::move(reply["return"]);
}

std::optional<json> QmpClient::next_event(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (events_.empty()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        auto message = read_message(std::max(left, std::chrono::milliseconds(0)));
        if (!message) {
            return std::nullopt;
        }
        if (message->contains("event")) {
            events_.push_back(std::move(*message));
        }
    }
    json event = std::move(events_.front());
    events_.pop_front();
    return event;
}

}  // namespace mvmm::control
