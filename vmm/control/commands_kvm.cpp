// The project's KVM commands: binary statistics and the dirty log.
#include <mvmm/control/command_table.hpp>

namespace mvmm::control {

void add_kvm_commands(CommandTable& table, KvmControl& kvm) {
    using nlohmann::json;
    table.add({"mshare-query-kvm-stats", {}, [&kvm](const json&) { return kvm.statistics(); }});
    table.add({"mshare-dirty-log-mark", {}, [&kvm](const json&) {
                   kvm.dirty_log_mark();
                   return json::object();
               }});
    table.add(
        {"mshare-dirty-log-collect", {}, [&kvm](const json&) { return kvm.dirty_log_collect(); }});
}

}  // namespace mvmm::control
