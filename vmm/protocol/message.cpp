#include <mvmm/common/strings.hpp>
#include <mvmm/protocol/message.hpp>

namespace mvmm::protocol {
namespace {

// nlohmann's messages start with "[json.exception.parse_error.101] "; the
// reader does not need that part.
std::string parse_error_text(const nlohmann::json::exception& e) {
    std::string_view text = e.what();
    if (starts_with(text, "[json.exception.")) {
        const auto end = text.find("] ");
        if (end != std::string_view::npos) {
            text.remove_prefix(end + 2);
        }
    }
    return std::string(text);
}

}  // namespace

std::string_view json_type_name(const nlohmann::json& value) {
    switch (value.type()) {
        case nlohmann::json::value_t::object:
            return "object";
        case nlohmann::json::value_t::array:
            return "array";
        case nlohmann::json::value_t::string:
            return "string";
        case nlohmann::json::value_t::boolean:
            return "boolean";
        case nlohmann::json::value_t::number_integer:
        case nlohmann::json::value_t::number_unsigned:
            return "integer";
        case nlohmann::json::value_t::number_float:
            return "number";
        case nlohmann::json::value_t::null:
            return "null";
        default:
            return "value";
    }
}

std::variant<Request, RequestError> parse_request(std::string_view text) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {  // parse_error, or out_of_range for 1e999
        return RequestError{ErrorClass::generic_error, cat("invalid JSON: ", parse_error_text(e)),
                            std::nullopt};
    }
    if (!doc.is_object()) {
        return RequestError{ErrorClass::generic_error,
                            cat("a message must be a JSON object, not ", json_type_name(doc)),
                            std::nullopt};
    }
    RequestError error;
    if (auto it = doc.find("id"); it != doc.end()) {
        error.id = *it;
    }
    for (const auto& [key, value] : doc.items()) {
        if (key == "exec-oob") {
            error.desc =
                "out-of-band execution ('exec-oob') is not supported: the 'oob' "
                "capability is not offered";
            return error;
        }
        if (key != "execute" && key != "arguments" && key != "id") {
            error.desc = cat("unexpected member ", quote(key),
                             " in a command (allowed: 'execute', 'arguments', 'id')");
            return error;
        }
    }
    const auto execute = doc.find("execute");
    if (execute == doc.end()) {
        error.desc = "a command needs an 'execute' member naming the command";
        return error;
    }
    if (!execute->is_string()) {
        error.desc = cat("member 'execute' must be a string, not ", json_type_name(*execute));
        return error;
    }
    Request request;
    request.execute = execute->get<std::string>();
    request.id = std::move(error.id);
    if (auto args = doc.find("arguments"); args != doc.end()) {
        if (!args->is_object()) {
            return RequestError{
                ErrorClass::generic_error,
                cat("member 'arguments' must be an object, not ", json_type_name(*args)),
                std::move(request.id)};
        }
        request.arguments = std::move(*args);
    }
    return request;
}

}  // namespace mvmm::protocol
