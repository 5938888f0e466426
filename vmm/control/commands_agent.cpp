// The project's guest commands, answered by the guest agent.
#include <mvmm/common/strings.hpp>
#include <mvmm/control/command_table.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {
namespace {

std::vector<std::string> string_list(const nlohmann::json& args, std::string_view name) {
    std::vector<std::string> out;
    if (const auto it = args.find(name); it != args.end()) {
        for (const auto& v : *it) {
            out.push_back(v.get<std::string>());
        }
    }
    return out;
}

}  // namespace

void add_agent_commands(CommandTable& table, AgentControl& agent) {
    using nlohmann::json;
    using protocol::ArgType;
    table.add({"mshare-guest-exec",
               {{"path", ArgType::string, true},
                {"args", ArgType::string_list, false},
                {"env", ArgType::string_list, false},
                {"timeout", ArgType::number, false},
                {"capture-output", ArgType::boolean, false}},
               [&agent](const json& args) {
                   AgentControl::ExecRequest request;
                   request.path = protocol::arg_string(args, "path");
                   if (request.path.empty()) {
                       throw protocol::CommandError(protocol::ErrorClass::generic_error,
                                                    "parameter 'path' must not be empty");
                   }
                   request.args = string_list(args, "args");
                   request.env = string_list(args, "env");
                   request.timeout_seconds = protocol::arg_number(args, "timeout", 0.0);
                   if (!(request.timeout_seconds >= 0.0)) {
                       throw protocol::CommandError(
                           protocol::ErrorClass::generic_error,
                           cat("parameter 'timeout' must not be negative, not ",
                               request.timeout_seconds));
                   }
                   request.capture_output = protocol::arg_bool(args, "capture-output", true);
                   return json{{"exec-id", agent.exec(request)}};
               }});
    table.add({"mshare-guest-exec-status",
               {{"exec-id", ArgType::unsigned_integer, true}},
               [&agent](const json& args) {
                   return agent.exec_status(protocol::arg_unsigned(args, "exec-id"));
               }});
    table.add(
        {"mshare-query-guest-meminfo", {}, [&agent](const json&) { return agent.meminfo(); }});
}

}  // namespace mvmm::control
