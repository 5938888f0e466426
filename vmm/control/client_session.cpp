#include "client_session.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <vector>

#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/protocol/arguments.hpp>
#include <mvmm/protocol/builders.hpp>

namespace mvmm::control {
namespace {

namespace asio = boost::asio;
using nlohmann::json;
using protocol::ErrorClass;
using Frame = protocol::JsonStreamSplitter::Frame;

// Frames read ahead while a command runs; past this the server stops reading
// from the client until it catches up.
constexpr std::size_t kMaxPendingFrames = 64;
// Messages handed to one gathered write.
constexpr std::size_t kMaxWriteBatch = 64;

Message encoded(const json& message) {
    return std::make_shared<const std::string>(protocol::encode(message));
}

// Runs a command and makes its reply; never throws.
json run_command(const Command& command, const json& arguments, const std::optional<json>& id) {
    try {
        return protocol::return_message(command.run(arguments), id);
    } catch (const protocol::CommandError& e) {
        return protocol::error_message(e.error_class(), e.what(), id);
    } catch (const Error& e) {
        return protocol::error_message(ErrorClass::generic_error, e.what(), id);
    } catch (const std::exception& e) {
        log::warn("control", "command ", quote(command.name), " failed: ", e.what());
        return protocol::error_message(
            ErrorClass::generic_error,
            cat("internal error in ", quote(command.name), ": ", e.what()), id);
    } catch (...) {
        log::warn("control", "command ", quote(command.name), " failed: unknown exception");
        return protocol::error_message(
            ErrorClass::generic_error,
            cat("internal error in ", quote(command.name), ": unknown exception"), id);
    }
}

}  // namespace

ClientSession::ClientSession(asio::local::stream_protocol::socket socket, SessionContext& context,
                             std::uint64_t id)
    : socket_(std::move(socket)),
      context_(context),
      id_(id),
      splitter_(context.max_message_bytes) {}

void ClientSession::start(const Message& greeting) {
    send(greeting);
    read_more();
}

void ClientSession::refuse(const Message& error) {
    input_done_ = true;
    send(error);
    close_if_done();
}

void ClientSession::send_event(const Message& event) {
    if (negotiated_ && !closed_) {
        send(event);
    }
}

void ClientSession::close_when_drained() {
    input_done_ = true;
    frames_.clear();
    close_if_done();
}

void ClientSession::close() {
    if (closed_) {
        return;
    }
    const auto self = shared_from_this();
    closed_ = true;
    boost::system::error_code ignored;
    socket_.shutdown(asio::socket_base::shutdown_both, ignored);
    socket_.close(ignored);
    frames_.clear();
    output_.clear();
    output_bytes_ = 0;
    context_.on_closed(id_);
}

void ClientSession::read_more() {
    if (reading_ || input_done_ || closed_ || frames_.size() >= kMaxPendingFrames) {
        return;
    }
    reading_ = true;
    socket_.async_read_some(
        asio::buffer(buffer_),
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t bytes) {
            self->on_read(error, bytes);
        });
}

void ClientSession::on_read(const boost::system::error_code& error, std::size_t bytes) {
    reading_ = false;
    if (closed_) {
        return;
    }
    if (error) {
        if (error == asio::error::eof) {
            // The client is done sending (e.g. `socat` after its input ends):
            // answer what it sent, then close.
            input_done_ = true;
            process_frames();
            close_if_done();
        } else {
            log::debug("control", "client ", id_, ": ", error.message());
            close();
        }
        return;
    }
    if (input_done_) {
        return;
    }
    std::vector<Frame> frames;
    splitter_.feed(std::string_view(buffer_.data(), bytes), frames);
    for (auto& frame : frames) {
        frames_.push_back(std::move(frame));
    }
    process_frames();
    read_more();
}

void ClientSession::process_frames() {
    while (!busy_ && !frames_.empty() && !closed_) {
        Frame frame = std::move(frames_.front());
        frames_.pop_front();
        switch (frame.kind) {
            case Frame::Kind::oversized:
                log::warn("control", "client ", id_, ": message over ", context_.max_message_bytes,
                          " bytes; closing the connection");
                send(protocol::error_message(
                    ErrorClass::generic_error,
                    cat("message exceeds the limit of ", context_.max_message_bytes,
                        " bytes; closing the connection"),
                    std::nullopt));
                input_done_ = true;
                frames_.clear();
                break;
            case Frame::Kind::too_deep:
                send(protocol::error_message(
                    ErrorClass::generic_error,
                    cat("message nested deeper than ",
                        protocol::JsonStreamSplitter::kDefaultMaxDepth, " levels"),
                    std::nullopt));
                break;
            case Frame::Kind::value: {
                auto parsed = protocol::parse_request(frame.text);
                if (auto* error = std::get_if<protocol::RequestError>(&parsed)) {
                    send(protocol::error_message(error->error_class, error->desc, error->id));
                } else {
                    handle(std::get<protocol::Request>(std::move(parsed)));
                }
                break;
            }
        }
    }
    close_if_done();
    read_more();
}

void ClientSession::handle(protocol::Request request) {
    const auto& id = request.id;
    if (request.execute == "qmp_capabilities") {
        if (negotiated_) {
            send(protocol::error_message(ErrorClass::command_not_found,
                                         "capabilities negotiation is already complete", id));
            return;
        }
        try {
            static const std::vector<protocol::ArgSpec> kArgs{
                {"enable", protocol::ArgType::string_list, false}};
            protocol::check_arguments(request.arguments, kArgs);
            if (auto it = request.arguments.find("enable");
                it != request.arguments.end() && !it->empty()) {
                throw protocol::CommandError(
                    ErrorClass::generic_error,
                    cat("capability ", quote(it->front().get<std::string>()),
                        " is not available (this server offers none)"));
            }
        } catch (const protocol::CommandError& e) {
            send(protocol::error_message(e.error_class(), e.what(), id));
            return;
        }
        negotiated_ = true;
        send(protocol::return_message(json::object(), id));
        return;
    }
    if (!negotiated_) {
        send(protocol::error_message(
            ErrorClass::command_not_found,
            cat("command ", quote(request.execute),
                " refused: the connection is in capabilities negotiation mode; send "
                "'qmp_capabilities' first"),
            id));
        return;
    }
    const Command* command = context_.commands.find(request.execute);
    if (command == nullptr) {
        send(protocol::error_message(ErrorClass::command_not_found,
                                     cat("command ", quote(request.execute), " not found"), id));
        return;
    }
    try {
        protocol::check_arguments(request.arguments, command->args);
    } catch (const protocol::CommandError& e) {
        send(protocol::error_message(e.error_class(), cat(request.execute, ": ", e.what()), id));
        return;
    }
    if (context_.stopping.load()) {
        send(protocol::error_message(ErrorClass::generic_error, "the VMM is shutting down", id));
        return;
    }
    busy_ = true;
    asio::post(context_.command,
               [self = shared_from_this(), command, request = std::move(request)]() {
                   Message reply = encoded(run_command(*command, request.arguments, request.id));
                   asio::post(self->context_.io,
                              [self, reply = std::move(reply)]() { self->finish_command(reply); });
               });
}

void ClientSession::finish_command(const Message& reply) {
    busy_ = false;
    if (closed_) {
        return;  // the client left while its command ran
    }
    send(reply);
    process_frames();
}

void ClientSession::send(const json& message) {
    send(encoded(message));
}

void ClientSession::send(const Message& message) {
    if (closed_) {
        return;
    }
    if (!output_.empty() && output_bytes_ + message->size() > context_.max_output_bytes) {
        log::warn("control", "client ", id_, " does not read its messages (", output_bytes_,
                  " bytes queued, limit ", context_.max_output_bytes, "); disconnecting it");
        close();
        return;
    }
    output_bytes_ += message->size();
    output_.push_back(message);
    write_more();
}

void ClientSession::write_more() {
    if (in_flight_ > 0 || output_.empty() || closed_) {
        return;
    }
    std::vector<asio::const_buffer> buffers;
    for (const auto& message : output_) {
        if (buffers.size() == kMaxWriteBatch) {
            break;
        }
        buffers.emplace_back(asio::buffer(*message));
    }
    in_flight_ = buffers.size();
    asio::async_write(
        socket_, buffers,
        [self = shared_from_this()](const boost::system::error_code& error, std::size_t) {
            if (self->closed_) {
                return;
            }
            if (error) {
                log::debug("control", "client ", self->id_, ": ", error.message());
                self->close();
                return;
            }
            for (; self->in_flight_ > 0; --self->in_flight_) {
                self->output_bytes_ -= self->output_.front()->size();
                self->output_.pop_front();
            }
            self->write_more();
            self->close_if_done();
        });
}

void ClientSession::close_if_done() {
    if (input_done_ && !busy_ && frames_.empty() && output_.empty() && !closed_) {
        close();
    }
}

}  // namespace mvmm::control
