// The project's introspection commands: processes, page tables, mshare
// regions and the accounting report, all read from guest memory.
#include <mvmm/control/command_table.hpp>

namespace mvmm::control {

void add_introspection_commands(CommandTable& table, IntrospectionControl& introspection) {
    using nlohmann::json;
    using protocol::ArgType;
    table.add({"mshare-query-processes", {}, [&introspection](const json&) {
                   return introspection.processes();
               }});
    table.add({"mshare-query-page-tables",
               {{"pid", ArgType::unsigned_integer, true}},
               [&introspection](const json& args) {
                   return introspection.page_tables(protocol::arg_unsigned(args, "pid"));
               }});
    table.add({"mshare-query-regions", {}, [&introspection](const json&) {
                   return introspection.mshare_regions();
               }});
    table.add({"mshare-query-accounting", {}, [&introspection](const json&) {
                   return introspection.accounting();
               }});
}

}  // namespace mvmm::control
