// Parsing and validating one QMP command message:
//   {"execute": NAME, "arguments": {...}, "id": ANY}
// `arguments` and `id` are optional; nothing else may appear.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <mvmm/protocol/error_class.hpp>

namespace mvmm::protocol {

struct Request {
    std::string execute;
    nlohmann::json arguments = nlohmann::json::object();  // always an object
    std::optional<nlohmann::json> id;
};

// Why a message is not a valid command. `id` is set when the message was an
// object with an "id" member, so the error reply can echo it.
struct RequestError {
    ErrorClass error_class = ErrorClass::generic_error;
    std::string desc;
    std::optional<nlohmann::json> id;
};

// Never throws for bad input: invalid JSON, a value that is not an object, a
// missing or non-string "execute", non-object "arguments" and unknown members
// all come back as a RequestError with a message that says which.
std::variant<Request, RequestError> parse_request(std::string_view text);

// The JSON type of a value for messages: "object", "array", "string",
// "integer", "number", "boolean", "null".
std::string_view json_type_name(const nlohmann::json& value);

}  // namespace mvmm::protocol
