#include "dispatcher.hpp"

#include <exception>

#include <mvmm/agent/json_stream.hpp>
#include <mvmm/agent/protocol.hpp>
#include <mvmm/common/strings.hpp>

#include "command_error.hpp"

namespace mvmm::agent {
namespace {

using nlohmann::json;

std::string serialize(const json& reply) {
    // Replace invalid UTF-8 (e.g. from a file name) rather than throwing.
    return reply.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

json make_error(const std::string& error_class, const std::string& desc) {
    return json{{"error", {{"class", error_class}, {"desc", desc}}}};
}

}  // namespace

void Dispatcher::add(const std::string& name, Handler handler) {
    handlers_[name] = std::move(handler);
}

std::vector<std::string> Dispatcher::commands() const {
    std::vector<std::string> names;
    for (const auto& [name, handler] : handlers_) {
        names.push_back(name);
    }
    return names;
}

std::string Dispatcher::error_reply(const std::string& error_class, const std::string& desc) {
    return serialize(make_error(error_class, desc));
}

std::string Dispatcher::handle(std::string_view text, CallContext& ctx) const {
    json request;
    try {
        request = json::parse(text);
    } catch (const json::parse_error& e) {
        return error_reply(kGenericError, cat("invalid JSON: ", e.what()));
    }
    if (!request.is_object()) {
        return error_reply(kGenericError, "invalid request: expected a JSON object");
    }
    const json* id = request.contains("id") ? &request["id"] : nullptr;
    const auto reply_with = [&](json reply) {
        if (id != nullptr) {
            reply["id"] = *id;
        }
        return serialize(reply);
    };
    for (const auto& [key, value] : request.items()) {
        if (key != "execute" && key != "arguments" && key != "id") {
            return reply_with(make_error(kGenericError, "invalid request: unexpected member " +
                                                            quote(key) +
                                                            " (known: execute, arguments, id)"));
        }
    }
    if (!request.contains("execute") || !request["execute"].is_string()) {
        return reply_with(
            make_error(kGenericError, "invalid request: 'execute' must name a command (a string)"));
    }
    const std::string name = request["execute"].get<std::string>();
    json arguments = json::object();
    if (request.contains("arguments")) {
        if (!request["arguments"].is_object()) {
            return reply_with(
                make_error(kGenericError, "invalid request: 'arguments' must be an object"));
        }
        arguments = request["arguments"];
    }
    const auto it = handlers_.find(name);
    if (it == handlers_.end()) {
        return reply_with(make_error(kCommandNotFound, "unknown command " + quote(name)));
    }
    json result;
    try {
        result = it->second(arguments, ctx);
    } catch (const CommandError& e) {
        ctx = CallContext{};
        return reply_with(make_error(e.error_class(), e.what()));
    } catch (const std::exception& e) {
        ctx = CallContext{};
        return reply_with(make_error(kGenericError, name + ": " + e.what()));
    }
    std::string out = reply_with(json{{"return", result}});
    if (ctx.delimited) {
        out.insert(out.begin(), kDelimiter);
    }
    return out;
}

}  // namespace mvmm::agent
