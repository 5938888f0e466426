#include <cmath>

#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/assertion.hpp>

namespace mvmm::scenario {
namespace {

using nlohmann::json;

// Looks `pointer` up in `doc`; nullopt if the pointer is malformed or absent.
std::optional<json> lookup(const json& doc, const std::string& pointer) {
    try {
        const json::json_pointer p(pointer);
        if (!doc.contains(p)) {
            return std::nullopt;
        }
        return doc.at(p);
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::string short_dump(const json& value) {
    auto text = value.dump();
    constexpr std::size_t kMax = 120;
    if (text.size() > kMax) {
        text = text.substr(0, kMax) + "...";
    }
    return text;
}

const char* kind_of(const json& value) {
    if (value.is_null()) {
        return "null";
    }
    if (value.is_boolean()) {
        return "a boolean";
    }
    if (value.is_number()) {
        return "a number";
    }
    if (value.is_string()) {
        return "a string";
    }
    if (value.is_array()) {
        return "an array";
    }
    return "an object";
}

bool json_equal(const json& a, const json& b) {
    if (a.is_number() && b.is_number()) {
        // 1 == 1.0; exact for integers either side.
        if (a.is_number_float() || b.is_number_float()) {
            return a.get<double>() == b.get<double>();
        }
        if (a.is_number_unsigned() && b.is_number_unsigned()) {
            return a.get<std::uint64_t>() == b.get<std::uint64_t>();
        }
        if (a.is_number_unsigned() != b.is_number_unsigned()) {
            // One side is a negative integer or both fit in int64.
            const auto& u = a.is_number_unsigned() ? a : b;
            const auto& s = a.is_number_unsigned() ? b : a;
            const auto sv = s.get<std::int64_t>();
            return sv >= 0 && static_cast<std::uint64_t>(sv) == u.get<std::uint64_t>();
        }
        return a.get<std::int64_t>() == b.get<std::int64_t>();
    }
    return a == b;
}

std::string subject_text(const Assertion& a) {
    std::string text = a.pointer.empty() ? "(result)" : a.pointer;
    if (a.count) {
        text += " count";
        if (!a.where.empty()) {
            text += " where ";
            for (std::size_t i = 0; i < a.where.size(); ++i) {
                text += (i ? " and " : "") + describe(a.where[i]);
            }
        }
    }
    return text;
}

std::string expected_text(const Assertion& a) {
    std::string text;
    if (a.ref) {
        text = "ref " + *a.ref;
    } else if (a.value) {
        text = short_dump(*a.value);
    }
    if (a.scale) {
        text += cat(" x ", json(*a.scale).dump());
    }
    if (a.tolerance) {
        text += cat(" +/- ", json(*a.tolerance).dump());
    }
    if (a.relative_tolerance) {
        text += cat(" +/- ", json(*a.relative_tolerance * 100.0).dump(), "%");
    }
    return text;
}

}  // namespace

std::string_view to_string(Op op) {
    switch (op) {
        case Op::eq:
            return "==";
        case Op::ne:
            return "!=";
        case Op::lt:
            return "<";
        case Op::le:
            return "<=";
        case Op::gt:
            return ">";
        case Op::ge:
            return ">=";
        case Op::approx:
            return "approx";
        case Op::exists:
            return "exists";
        case Op::absent:
            return "absent";
    }
    return "?";
}

std::optional<Op> op_from_string(std::string_view text) {
    for (auto op :
         {Op::eq, Op::ne, Op::lt, Op::le, Op::gt, Op::ge, Op::approx, Op::exists, Op::absent}) {
        if (to_string(op) == text) {
            return op;
        }
    }
    return std::nullopt;
}

std::string describe(const Assertion& a) {
    std::string text = cat(subject_text(a), " ", to_string(a.op));
    const auto expected = expected_text(a);
    if (!expected.empty()) {
        text += " " + expected;
    }
    if (!a.name.empty()) {
        return cat(a.name, " (", text, ")");
    }
    return text;
}

AssertionOutcome evaluate(const Assertion& a, const json& subject, const json& saved) {
    AssertionOutcome out;
    const auto fail = [&](const std::string& reason) {
        out.passed = false;
        out.message = cat(describe(a), ": ", reason);
        return out;
    };

    // The actual value.
    const auto found = lookup(subject, a.pointer);
    if (a.op == Op::absent) {
        out.passed = !found.has_value();
        out.actual = found.value_or(json());
        out.message =
            cat(describe(a), out.passed ? ": absent" : ": present, " + short_dump(*found));
        return out;
    }
    if (!found) {
        return fail(a.pointer.empty() ? "there is no result" : "no such member in the result");
    }
    if (a.op == Op::exists) {
        out.passed = true;
        out.actual = *found;
        out.message = cat(describe(a), ": present");
        return out;
    }
    json actual = *found;
    if (a.count) {
        if (!actual.is_array() && !actual.is_object()) {
            return fail(cat("cannot count ", kind_of(actual), " (", short_dump(actual),
                            "); need an array or an object"));
        }
        std::uint64_t n = 0;
        for (const auto& element : actual) {
            bool all = true;
            for (const auto& w : a.where) {
                if (!evaluate(w, element, saved).passed) {
                    all = false;
                    break;
                }
            }
            n += all ? 1 : 0;
        }
        actual = n;
    }
    out.actual = actual;

    // The expected value.
    json expected;
    if (a.ref) {
        const auto r = lookup(saved, *a.ref);
        if (!r) {
            return fail(cat("ref ", *a.ref, " is not among the saved results"));
        }
        expected = *r;
    } else if (a.value) {
        expected = *a.value;
    }
    if (a.scale) {
        if (!expected.is_number()) {
            return fail(cat("cannot scale ", kind_of(expected), " (", short_dump(expected), ")"));
        }
        expected = expected.get<double>() * *a.scale;
    }
    out.expected = expected;

    bool ok = false;
    switch (a.op) {
        case Op::eq:
            ok = json_equal(actual, expected);
            break;
        case Op::ne:
            ok = !json_equal(actual, expected);
            break;
        case Op::lt:
        case Op::le:
        case Op::gt:
        case Op::ge:
        case Op::approx: {
            if (!actual.is_number()) {
                return fail(cat("actual value is ", kind_of(actual), " (", short_dump(actual),
                                "), not a number"));
            }
            if (!expected.is_number()) {
                return fail(cat("expected value is ", kind_of(expected), " (", short_dump(expected),
                                "), not a number"));
            }
            const double x = actual.get<double>();
            const double y = expected.get<double>();
            if (a.op == Op::lt) {
                ok = x < y;
            } else if (a.op == Op::le) {
                ok = x <= y;
            } else if (a.op == Op::gt) {
                ok = x > y;
            } else if (a.op == Op::ge) {
                ok = x >= y;
            } else {
                const double tol =
                    a.tolerance ? *a.tolerance : std::fabs(y) * a.relative_tolerance.value_or(0.0);
                ok = std::fabs(x - y) <= tol;
            }
            break;
        }
        case Op::exists:
        case Op::absent:
            break;
    }
    out.passed = ok;
    std::string detail = cat("actual ", short_dump(actual));
    if (a.ref || a.scale) {
        detail += cat(", expected ", short_dump(expected));
    }
    out.message = cat(describe(a), ": ", detail);
    return out;
}

}  // namespace mvmm::scenario
