// libFuzzer target for scenario files (docs/scenarios.md): the input is a
// scenario file's text. The parser must accept it or throw mvmm::Error; the
// assertions of every scenario it accepts are then evaluated against the
// input document (as the step result and as the saved results), which must
// never throw.
//
// Checked besides "no crash, no sanitizer report, no stray exception":
//   - a rejected file's message names the file;
//   - an accepted file has at least one scenario, each with at least one
//     step, and scenario names unique in the file.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>

#include <mvmm/common/error.hpp>
#include <mvmm/scenario/assertion.hpp>
#include <mvmm/scenario/scenario.hpp>

namespace {

namespace sc = mvmm::scenario;

// A folder that does not exist: the VM config's files are reported missing
// (the scenario is then skipped), and nothing is read from the disk.
constexpr std::string_view kFile = "/nonexistent-mvmm-fuzz/configs/scenarios/fuzz.json";

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

void evaluate_all(const std::vector<sc::Assertion>& asserts, const nlohmann::json& subject) {
    for (const auto& a : asserts) {
        const auto outcome = sc::evaluate(a, subject, subject);
        check(!outcome.message.empty());
        (void)sc::describe(a);
        if (!a.where.empty() && subject.is_array()) {
            for (const auto& element : subject) {
                evaluate_all(a.where, element);
            }
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) {
        return 0;
    }
    sc::ScenarioFile file;
    try {
        file = sc::parse_scenario_file(doc, kFile);
    } catch (const mvmm::Error& e) {
        check(std::string_view(e.what()).find(kFile) != std::string_view::npos);
        return 0;
    }
    check(!file.scenarios.empty());
    std::set<std::string> names;
    for (const auto& s : file.scenarios) {
        check(!s.steps.empty());
        check(names.insert(s.name).second);
        check(!s.vm.has_value() || !s.vm->kernel.empty());
        for (const auto& step : s.steps) {
            evaluate_all(step.asserts, doc);
        }
    }
    return 0;
}
