// One client connection of the control server (private to vmm/control).
// Everything here runs on the server's I/O thread, except the command
// handlers, which run on its command thread.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <mvmm/control/command_table.hpp>
#include <mvmm/protocol/message.hpp>
#include <mvmm/protocol/stream_splitter.hpp>

namespace mvmm::control {

using Message = std::shared_ptr<const std::string>;

// What sessions share with the server.
struct SessionContext {
    const CommandTable& commands;
    boost::asio::io_context& io;       // the I/O thread
    boost::asio::io_context& command;  // the command thread
    std::size_t max_message_bytes;
    std::size_t max_output_bytes;
    const std::atomic<bool>& stopping;
    std::function<void(std::uint64_t id)> on_closed;
};

class ClientSession : public std::enable_shared_from_this<ClientSession> {
  public:
    ClientSession(boost::asio::local::stream_protocol::socket socket, SessionContext& context,
                  std::uint64_t id);

    // Sends the greeting and starts reading.
    void start(const Message& greeting);
    // Sends one error message, then closes (too many clients).
    void refuse(const Message& error);
    // Queues an event if the client has negotiated capabilities.
    void send_event(const Message& event);
    // Stops reading; closes once the queued output is written.
    void close_when_drained();
    void close();

    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

  private:
    void read_more();
    void on_read(const boost::system::error_code& error, std::size_t bytes);
    void process_frames();
    void handle(protocol::Request request);
    void finish_command(const Message& reply);
    void send(const nlohmann::json& message);
    void send(const Message& message);
    void write_more();
    void close_if_done();

    boost::asio::local::stream_protocol::socket socket_;
    SessionContext& context_;
    std::uint64_t id_;
    protocol::JsonStreamSplitter splitter_;
    std::array<char, 16384> buffer_{};
    std::deque<protocol::JsonStreamSplitter::Frame> frames_;
    std::deque<Message> output_;
    std::size_t output_bytes_ = 0;
    std::size_t in_flight_ = 0;  // messages at the front of output_ being written
    bool reading_ = false;
    bool busy_ = false;        // a command runs on the command thread
    bool negotiated_ = false;  // past qmp_capabilities
    bool input_done_ = false;  // end of input, oversized message, or refused
    bool closed_ = false;
};

}  // namespace mvmm::control
