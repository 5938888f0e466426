#include "agent.hpp"

#include <array>
#include <cerrno>

#include <poll.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>

#include "commands.hpp"

namespace mvmm::agent {
namespace {

void write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0) {
            throw_errno("guest agent: write reply");
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

}  // namespace

std::string ready_event() {
    nlohmann::json event{{"event", kReadyEvent},
                         {"data", {{"version", kAgentVersion}, {"pid", ::getpid()}}}};
    return std::string(1, kDelimiter) + event.dump() + "\n";
}

Agent::Agent(AgentOptions options) : options_(std::move(options)), splitter_(options_.max_request) {
    register_commands();
}

void Agent::register_commands() {
    CommandEnv env{options_.proc_root, options_.sys_root, options_.shutdown};
    add_commands(dispatcher_, exec_, env);
}

std::string Agent::process(std::string_view bytes, std::vector<std::function<void()>>& then) {
    std::vector<JsonStreamSplitter::Item> items;
    splitter_.feed(bytes, items);
    std::string replies;
    for (auto& item : items) {
        switch (item.kind) {
            case JsonStreamSplitter::Item::Kind::delimiter:
                break;
            case JsonStreamSplitter::Item::Kind::error:
                replies += Dispatcher::error_reply(kGenericError, item.text);
                break;
            case JsonStreamSplitter::Item::Kind::message: {
                CallContext ctx;
                replies += dispatcher_.handle(item.text, ctx);
                if (ctx.after_reply) {
                    then.push_back(std::move(ctx.after_reply));
                }
                break;
            }
        }
    }
    return replies;
}

std::string Agent::feed(std::string_view bytes) {
    std::vector<std::function<void()>> then;
    auto out = process(bytes, then);
    for (auto& f : then) {
        f();
    }
    return out;
}

void Agent::run(int in_fd, int out_fd) {
    write_all(out_fd, ready_event());
    std::array<char, 65536> buf{};
    std::vector<pollfd> fds;
    for (;;) {
        fds.clear();
        fds.push_back({in_fd, POLLIN, 0});
        exec_.add_pollfds(fds);
        const int timeout = exec_.poll_timeout_ms(ExecManager::Clock::now());
        const int n = ::poll(fds.data(), fds.size(), timeout);
        if (n < 0 && errno != EINTR) {
            throw_errno("guest agent: poll");
        }
        for (std::size_t i = 1; n > 0 && i < fds.size(); ++i) {
            if (fds[i].revents != 0) {
                exec_.on_ready(fds[i].fd);
            }
        }
        exec_.check_deadlines(ExecManager::Clock::now());
        if (n > 0 && fds[0].revents != 0) {
            const ssize_t got = ::read(in_fd, buf.data(), buf.size());
            if (got < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (got <= 0) {
                return;  // end of input: the caller decides what next
            }
            std::vector<std::function<void()>> then;
            const auto replies =
                process(std::string_view(buf.data(), static_cast<std::size_t>(got)), then);
            if (!replies.empty()) {
                write_all(out_fd, replies);
                if (options_.flush) {
                    options_.flush(out_fd);
                }
            }
            for (auto& f : then) {
                f();
            }
        }
    }
}

}  // namespace mvmm::agent
