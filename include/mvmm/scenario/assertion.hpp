// Assertions of scenario files: a JSON pointer into a result, a comparison,
// and the expected value (a literal, or a pointer into the results the
// scenario saved so far). The format is documented in docs/scenarios.md.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::scenario {

enum class Op { eq, ne, lt, le, gt, ge, approx, exists, absent };

// "==", "!=", "<", "<=", ">", ">=", "approx", "exists", "absent".
std::string_view to_string(Op op);
std::optional<Op> op_from_string(std::string_view text);

struct Assertion {
    std::string name;     // optional label for messages and reports
    std::string pointer;  // JSON pointer into the subject ("" is the whole subject)
    // With `count`, the subject is the number of elements of the array or
    // object at `pointer` for which every `where` assertion holds (all of them
    // when `where` is empty). `where` pointers are relative to each element.
    bool count = false;
    std::vector<Assertion> where;
    Op op = Op::eq;
    std::optional<nlohmann::json> value;       // a literal expected value
    std::optional<std::string> ref;            // or a JSON pointer into the saved results
    std::optional<double> scale;               // multiplies a numeric expected value
    std::optional<double> tolerance;           // approx: absolute
    std::optional<double> relative_tolerance;  // approx: fraction of the expected value
    std::string field;  // where the assertion was written, e.g. "steps/3/assert/0"
};

// The implicit move of nlohmann::json members is noexcept; clang-tidy cannot see it.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct AssertionOutcome {
    bool passed = false;
    // "/totals/shared_puds count == 1: actual 2" (always filled, pass or fail).
    std::string message;
    nlohmann::json actual;    // the subject value (null if absent)
    nlohmann::json expected;  // after ref resolution and scale
};

// Evaluates `assertion` against `subject`; `saved` is the document the `ref`
// pointers resolve in (an object: saved name -> result). Never throws: a
// missing pointer, a type mismatch or a bad ref is a failed outcome that
// says so.
AssertionOutcome evaluate(const Assertion& assertion, const nlohmann::json& subject,
                          const nlohmann::json& saved);

// A one-line description: "one shared PUD (/shared_puds count == 1)".
std::string describe(const Assertion& assertion);

}  // namespace mvmm::scenario
