#include <algorithm>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/command_table.hpp>

namespace mvmm::control {

void CommandTable::add(Command command) {
    const std::string name = command.name;
    if (!commands_.emplace(name, std::move(command)).second) {
        throw Error(cat("control command ", quote(name), ": registered twice"));
    }
}

const Command* CommandTable::find(std::string_view name) const {
    const auto it = commands_.find(name);
    return it == commands_.end() ? nullptr : &it->second;
}

std::vector<std::string> CommandTable::names() const {
    std::vector<std::string> out;
    out.reserve(commands_.size() + 1);
    for (const auto& [name, command] : commands_) {
        out.push_back(name);
    }
    return out;
}

CommandTable make_command_table(const ControlBackend& backend) {
    if (backend.vm == nullptr) {
        throw Error("control server: no VM to control");
    }
    CommandTable table;
    add_standard_commands(table, *backend.vm);
    add_vm_commands(table, *backend.vm);
    if (backend.kvm != nullptr) {
        add_kvm_commands(table, *backend.kvm);
    }
    if (backend.introspection != nullptr) {
        add_introspection_commands(table, *backend.introspection);
    }
    if (backend.agent != nullptr) {
        add_agent_commands(table, *backend.agent);
    }
    // QEMU lists every command, qmp_capabilities and query-commands included.
    auto names = table.names();
    names.emplace_back("qmp_capabilities");
    names.emplace_back("query-commands");
    std::sort(names.begin(), names.end());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& name : names) {
        list.push_back({{"name", name}});
    }
    table.add({"query-commands", {}, [list](const nlohmann::json&) { return list; }});
    return table;
}

}  // namespace mvmm::control
