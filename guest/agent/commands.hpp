// The agent's commands, registered on a dispatcher. docs/guest-agent.md
// describes each with its arguments, reply and an example.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "dispatcher.hpp"
#include "exec_manager.hpp"

namespace mvmm::agent {

struct CommandEnv {
    std::filesystem::path proc_root;
    std::filesystem::path sys_root;
    std::function<void(const std::string& mode)> shutdown;
};

void add_commands(Dispatcher& dispatcher, ExecManager& exec, const CommandEnv& env);

}  // namespace mvmm::agent
