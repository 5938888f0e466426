#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/events.hpp>
#include <mvmm/control/server.hpp>
#include <mvmm/control/socket_file.hpp>
#include <mvmm/protocol/builders.hpp>

#include "client_session.hpp"

namespace mvmm::control {

namespace asio = boost::asio;
using stream_protocol = asio::local::stream_protocol;

struct ControlServer::Impl {
    Impl(ServerOptions opts, const ControlBackend& backend)
        : options(std::move(opts)),
          commands(make_command_table(backend)),
          listener(options.socket_path),
          context{commands,
                  io,
                  command_io,
                  options.max_message_bytes,
                  options.max_output_bytes,
                  stopping,
                  [this](std::uint64_t id) { forget(id); }} {}

    void start() {
        acceptor.assign(stream_protocol(), listener.release_fd());
        greeting = std::make_shared<const std::string>(
            protocol::encode(protocol::greeting(protocol::build_version())));
        accept_next();
        io_thread = std::thread([this] { run_loop(io, "I/O"); });
        command_thread = std::thread([this] { run_loop(command_io, "command"); });
        log::info("control", "listening on ", quote(options.socket_path.string()));
    }

    // A handler that throws must not take the thread (and the VMM) down:
    // log it and go on serving.
    static void run_loop(asio::io_context& context, std::string_view what) {
        while (true) {
            try {
                context.run();
                return;
            } catch (const std::exception& e) {
                log::error("control", what, " thread: ", e.what());
            } catch (...) {
                log::error("control", what, " thread: unknown exception");
            }
        }
    }

    void accept_next() {
        acceptor.async_accept([this](const boost::system::error_code& error,
                                     stream_protocol::socket socket) {
            if (error == asio::error::operation_aborted || !acceptor.is_open()) {
                return;
            }
            if (error) {
                // Out of descriptors, most likely: try again shortly.
                log::warn("control", "accepting a client: ", error.message());
                retry_timer.expires_after(std::chrono::milliseconds(100));
                retry_timer.async_wait([this](const boost::system::error_code& e) {
                    if (!e) {
                        accept_next();
                    }
                });
                return;
            }
            const std::uint64_t id = ++next_id;
            auto session = std::make_shared<ClientSession>(std::move(socket), context, id);
            if (sessions.size() >= options.max_clients) {
                log::warn("control", "refusing client ", id, ": ", sessions.size(),
                          " clients connected (the limit)");
                sessions.emplace(id, session);
                count.store(sessions.size());
                session->refuse(
                    std::make_shared<const std::string>(protocol::encode(protocol::error_message(
                        protocol::ErrorClass::generic_error,
                        cat("too many clients (the limit is ", options.max_clients, ")"),
                        std::nullopt))));
            } else {
                log::debug("control", "client ", id, " connected");
                sessions.emplace(id, session);
                count.store(sessions.size());
                session->start(greeting);
            }
            accept_next();
        });
    }

    void forget(std::uint64_t id) {
        sessions.erase(id);
        count.store(sessions.size());
        log::debug("control", "client ", id, " disconnected");
    }

    void broadcast(const Message& message) {
        // Copy: a session that is too far behind closes itself while we iterate.
        std::vector<std::shared_ptr<ClientSession>> all;
        all.reserve(sessions.size());
        for (const auto& [id, session] : sessions) {
            all.push_back(session);
        }
        for (const auto& session : all) {
            session->send_event(message);
        }
    }

    // Runs `work` on the I/O thread and waits for it.
    template <typename Work>
    void on_io_thread(Work work) {
        std::promise<void> done;
        auto future = done.get_future();
        asio::post(io, [&] {
            work();
            done.set_value();
        });
        future.wait();
    }

    void stop() {
        if (stopped.exchange(true)) {
            return;
        }
        stopping.store(true);
        // Let the command in progress finish; its reply is then queued on the
        // I/O thread ahead of what follows.
        {
            std::promise<void> drained;
            auto future = drained.get_future();
            asio::post(command_io, [&] { drained.set_value(); });
            future.wait();
        }
        on_io_thread([this] {
            boost::system::error_code ignored;
            acceptor.close(ignored);
            retry_timer.cancel();
            std::vector<std::shared_ptr<ClientSession>> all;
            for (const auto& [id, session] : sessions) {
                all.push_back(session);
            }
            for (const auto& session : all) {
                session->close_when_drained();
            }
        });
        const auto deadline = std::chrono::steady_clock::now() + options.flush_timeout;
        while (count.load() > 0 && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
        on_io_thread([this] {
            std::vector<std::shared_ptr<ClientSession>> all;
            for (const auto& [id, session] : sessions) {
                all.push_back(session);
            }
            for (const auto& session : all) {
                session->close();
            }
            sessions.clear();
        });
        command_guard.reset();
        command_io.stop();
        command_thread.join();
        io_guard.reset();
        io.stop();
        io_thread.join();
        listener.remove_file();
        log::info("control", "closed ", quote(options.socket_path.string()));
    }

    ServerOptions options;
    CommandTable commands;
    ListeningSocket listener;  // removes the socket file last
    asio::io_context io;
    asio::io_context command_io;
    asio::executor_work_guard<asio::io_context::executor_type> io_guard{io.get_executor()};
    asio::executor_work_guard<asio::io_context::executor_type> command_guard{
        command_io.get_executor()};
    stream_protocol::acceptor acceptor{io};
    asio::steady_timer retry_timer{io};
    std::atomic<bool> stopping{false};
    std::atomic<bool> stopped{false};
    SessionContext context;
    Message greeting;
    std::map<std::uint64_t, std::shared_ptr<ClientSession>> sessions;  // I/O thread only
    std::atomic<std::size_t> count{0};
    std::uint64_t next_id = 0;
    std::thread io_thread;
    std::thread command_thread;
};

ControlServer::ControlServer(ServerOptions options, ControlBackend backend)
    : impl_(std::make_unique<Impl>(std::move(options), backend)) {
    impl_->start();
}

ControlServer::~ControlServer() {
    stop();
}

void ControlServer::publish(const EngineEvent& event) {
    const QmpEvent qmp = to_qmp_event(event);
    publish(qmp.name, qmp.data, qmp.when);
}

void ControlServer::publish(std::string_view name, const nlohmann::json& data,
                            std::chrono::system_clock::time_point when) {
    if (impl_->stopped.load()) {
        return;
    }
    auto message = std::make_shared<const std::string>(
        protocol::encode(protocol::event_message(name, data, when)));
    asio::post(impl_->io,
               [impl = impl_.get(), message = std::move(message)] { impl->broadcast(message); });
}

void ControlServer::stop() {
    impl_->stop();
}

const std::filesystem::path& ControlServer::socket_path() const {
    return impl_->options.socket_path;
}

std::size_t ControlServer::client_count() const {
    return impl_->count.load();
}

}  // namespace mvmm::control
