// QEMU's standard commands, with QEMU's shapes.
#include <mvmm/common/strings.hpp>
#include <mvmm/control/command_table.hpp>
#include <mvmm/protocol/builders.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {
namespace {

using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;

bool has_ended(RunState state) {
    return state == RunState::shutdown || state == RunState::guest_panicked ||
           state == RunState::internal_error;
}

}  // namespace

void add_standard_commands(CommandTable& table, VmControl& vm) {
    // QEMU: {"running": bool, "status": "..."}. The engine's name and the reason
    // it was chosen ride along as extra "mshare-" members, which QMP clients
    // ignore; mshare-query-engine has them on their own.
    table.add({"query-status", {}, [&vm](const json&) {
                   const RunState state = vm.run_state();
                   const json engine = vm.engine_info();
                   return json{{"running", state == RunState::running},
                               {"status", to_string(state)},
                               {"mshare-engine", engine.value("engine", "")},
                               {"mshare-engine-reason", engine.value("reason", "")}};
               }});
    table.add({"stop", {}, [&vm](const json&) {
                   if (vm.run_state() == RunState::running) {
                       vm.pause();
                   }
                   return json::object();
               }});
    table.add({"cont", {}, [&vm](const json&) {
                   const RunState state = vm.run_state();
                   if (has_ended(state)) {
                       throw CommandError(ErrorClass::generic_error,
                                          cat("the guest has ended (status ",
                                              quote(to_string(state)), "); it cannot be resumed"));
                   }
                   if (state == RunState::prelaunch) {
                       throw CommandError(ErrorClass::generic_error,
                                          "the guest has not been started yet");
                   }
                   if (state == RunState::paused) {
                       vm.resume();
                   }
                   return json::object();
               }});
    table.add({"quit", {}, [&vm](const json&) {
                   vm.quit();
                   return json::object();
               }});
    table.add({"query-version", {}, [](const json&) {
                   return protocol::version_json(protocol::build_version());
               }});
}

}  // namespace mvmm::control
