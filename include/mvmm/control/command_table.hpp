// The commands a control server answers, by name, with their arguments.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/control/backend.hpp>
#include <mvmm/protocol/arguments.hpp>

namespace mvmm::control {

struct Command {
    std::string name;
    std::vector<protocol::ArgSpec> args;
    // Runs on the server's command thread with arguments already checked
    // against `args`. Returns the "return" value.
    std::function<nlohmann::json(const nlohmann::json& arguments)> run;
};

class CommandTable {
  public:
    // Throws Error if the name is taken.
    void add(Command command);
    [[nodiscard]] const Command* find(std::string_view name) const;
    // Sorted by name.
    [[nodiscard]] std::vector<std::string> names() const;

  private:
    std::map<std::string, Command, std::less<>> commands_;
};

// Every command the backend's parts support: the standard ones (except
// qmp_capabilities, which the connection itself handles) and the project's
// own "mshare-" commands.
CommandTable make_command_table(const ControlBackend& backend);

// The groups, one per part (commands_*.cpp).
void add_standard_commands(CommandTable& table, VmControl& vm);
void add_vm_commands(CommandTable& table, VmControl& vm);
void add_kvm_commands(CommandTable& table, KvmControl& kvm);
void add_introspection_commands(CommandTable& table, IntrospectionControl& introspection);
void add_agent_commands(CommandTable& table, AgentControl& agent);

}  // namespace mvmm::control
