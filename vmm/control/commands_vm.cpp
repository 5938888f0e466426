// The project's commands about the VM itself: the engine and the console.
#include <mvmm/common/strings.hpp>
#include <mvmm/control/command_table.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::control {
namespace {

using nlohmann::json;
using protocol::ArgType;

constexpr std::uint64_t kDefaultConsoleLines = 50;
constexpr std::uint64_t kMaxConsoleLines = 10000;

}  // namespace

void add_vm_commands(CommandTable& table, VmControl& vm) {
    table.add({"mshare-query-engine", {}, [&vm](const json&) { return vm.engine_info(); }});
    table.add({"mshare-query-console",
               {{"lines", ArgType::unsigned_integer, false}},
               [&vm](const json& args) {
                   const auto lines = protocol::arg_unsigned(args, "lines", kDefaultConsoleLines);
                   if (lines == 0 || lines > kMaxConsoleLines) {
                       throw protocol::CommandError(protocol::ErrorClass::generic_error,
                                                    cat("parameter 'lines' must be between 1 and ",
                                                        kMaxConsoleLines, ", not ", lines));
                   }
                   auto tail = vm.console_tail(lines);
                   return json{{"lines", std::move(tail.lines)}, {"bytes-total", tail.bytes_total}};
               }});
}

}  // namespace mvmm::control
