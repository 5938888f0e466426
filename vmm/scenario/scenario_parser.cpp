// Parsing and validation of scenario files (docs/scenarios.md).
#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/scenario.hpp>

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using KeySet = std::set<std::string, std::less<>>;

constexpr std::size_t kMaxMatrixCombinations = 10000;
constexpr double kMaxSeconds = 7 * 24 * 3600.0;

const char* kind_of(const json& value) {
    if (value.is_object()) {
        return "an object";
    }
    if (value.is_array()) {
        return "an array";
    }
    if (value.is_string()) {
        return "a string";
    }
    if (value.is_boolean()) {
        return "a boolean";
    }
    if (value.is_number()) {
        return "a number";
    }
    return "null";
}

std::string join(const KeySet& keys) {
    std::string out;
    for (const auto& k : keys) {
        out += out.empty() ? k : ", " + k;
    }
    return out;
}

// Escapes a key for use in a JSON pointer.
std::string pointer_token(const std::string& key) {
    std::string out;
    for (char c : key) {
        if (c == '~') {
            out += "~0";
        } else if (c == '/') {
            out += "~1";
        } else {
            out += c;
        }
    }
    return out;
}

// Where in the file a value is: for error messages.
class Where {
  public:
    explicit Where(std::string file) : file_(std::move(file)) {}

    [[nodiscard]] Where scenario(std::size_t index, const std::string& name) const {
        Where w = *this;
        w.scenario_ = cat("scenario ", index, name.empty() ? "" : " " + quote(name));
        return w;
    }
    [[nodiscard]] Where step(std::size_t index, const std::string& name) const {
        Where w = *this;
        w.step_ = cat("step ", index, name.empty() ? "" : " " + quote(name));
        return w;
    }

    [[noreturn]] void fail(std::string_view path, std::string_view reason) const {
        std::string text = cat("scenario file ", quote(file_), ": ");
        if (!scenario_.empty()) {
            text += scenario_ + ": ";
        }
        if (!step_.empty()) {
            text += step_ + ": ";
        }
        text += cat(path.empty() ? "/" : path, ": ", reason);
        throw Error(text);
    }

    // Fails with `text` after the file, scenario and step names.
    [[noreturn]] void fail_text(std::string_view text) const {
        std::string out = cat("scenario file ", quote(file_), ": ");
        if (!scenario_.empty()) {
            out += scenario_ + ": ";
        }
        if (!step_.empty()) {
            out += step_ + ": ";
        }
        throw Error(out + std::string(text));
    }

  private:
    std::string file_;
    std::string scenario_;
    std::string step_;
};

class Fields {
  public:
    Fields(const Where& where, std::string path) : where_(where), path_(std::move(path)) {}

    [[nodiscard]] std::string at(std::string_view key) const { return cat(path_, "/", key); }
    [[noreturn]] void fail(std::string_view key, std::string_view reason) const {
        where_.fail(key.empty() ? path_ : at(key), reason);
    }

    void object(const json& value) const {
        if (!value.is_object()) {
            where_.fail(path_, cat("must be an object, not ", kind_of(value)));
        }
    }
    void keys(const json& object, const KeySet& allowed, std::string_view what) const {
        for (const auto& [key, value] : object.items()) {
            if (!allowed.contains(key)) {
                fail(pointer_token(key),
                     cat("unknown key in ", what, " (known keys: ", join(allowed), ")"));
            }
        }
    }
    [[nodiscard]] std::string string(const json& value, std::string_view key,
                                     bool nonempty = true) const {
        if (!value.is_string()) {
            fail(key, cat("must be a string, not ", kind_of(value)));
        }
        auto s = value.get<std::string>();
        if (nonempty && s.empty()) {
            fail(key, "must not be empty");
        }
        return s;
    }
    [[nodiscard]] bool boolean(const json& value, std::string_view key) const {
        if (!value.is_boolean()) {
            fail(key, cat("must be true or false, not ", kind_of(value)));
        }
        return value.get<bool>();
    }
    [[nodiscard]] double number(const json& value, std::string_view key) const {
        if (!value.is_number()) {
            fail(key, cat("must be a number, not ", kind_of(value)));
        }
        return value.get<double>();
    }
    [[nodiscard]] double seconds(const json& value, std::string_view key, bool allow_zero) const {
        const double s = number(value, key);
        if (!std::isfinite(s) || s < 0 || (s == 0 && !allow_zero) || s > kMaxSeconds) {
            fail(key, cat(value.dump(), " is out of range (seconds, ", allow_zero ? "0" : "above 0",
                          " to ", kMaxSeconds, ")"));
        }
        return s;
    }
    [[nodiscard]] std::vector<std::string> strings(const json& value, std::string_view key) const {
        if (!value.is_array()) {
            fail(key, cat("must be an array of strings, not ", kind_of(value)));
        }
        std::vector<std::string> out;
        for (std::size_t i = 0; i < value.size(); ++i) {
            out.push_back(string(value[i], cat(key, "/", i), false));
        }
        return out;
    }
    // Command-line words: strings, or numbers written out (so that "${N}"
    // from a numeric matrix parameter can be an argument).
    [[nodiscard]] std::vector<std::string> words(const json& value, std::string_view key) const {
        if (!value.is_array()) {
            fail(key, cat("must be an array of strings, not ", kind_of(value)));
        }
        std::vector<std::string> out;
        for (std::size_t i = 0; i < value.size(); ++i) {
            const auto& v = value[i];
            if (v.is_number()) {
                out.push_back(v.dump());
            } else if (v.is_string()) {
                out.push_back(v.get<std::string>());
            } else {
                fail(cat(key, "/", i), cat("must be a string or a number, not ", kind_of(v)));
            }
        }
        return out;
    }
    [[nodiscard]] std::vector<std::string> patterns(const json& value, std::string_view key) const {
        auto list = strings(value, key);
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (list[i].empty()) {
                fail(cat(key, "/", i), "must not be empty");
            }
            try {
                const std::regex re(list[i]);
            } catch (const std::regex_error& e) {
                fail(cat(key, "/", i),
                     cat(quote(list[i]), " is not a valid regular expression (", e.what(), ")"));
            }
        }
        return list;
    }
    [[nodiscard]] std::string pointer(const json& value, std::string_view key) const {
        auto p = string(value, key, false);
        try {
            const json::json_pointer check(p);
        } catch (const json::exception&) {
            fail(key, cat(quote(p),
                          " is not a JSON pointer (\"\" or \"/a/0/b\"; escape ~ as ~0 "
                          "and / as ~1)"));
        }
        return p;
    }

    [[nodiscard]] const Where& where() const { return where_; }
    [[nodiscard]] const std::string& path() const { return path_; }

  private:
    const Where& where_;
    std::string path_;
};

// ---------------------------------------------------------------------------
// Matrix parameters and ${name} substitution.

bool is_identifier(std::string_view s) {
    if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0])) != 0) {
        return false;
    }
    for (char c : s) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_') {
            return false;
        }
    }
    return true;
}

std::string param_text(const json& value) {
    return value.is_string() ? value.get<std::string>() : value.dump();
}

// Replaces ${name} in every string of `value` (not in keys). A string that is
// exactly "${name}" becomes the parameter's value with its JSON type; "$${"
// stands for a literal "${".
json substitute(const json& value, const json& params, const Where& where,
                const std::string& path) {
    if (value.is_object()) {
        json out = json::object();
        for (const auto& [k, v] : value.items()) {
            out[k] = substitute(v, params, where, cat(path, "/", pointer_token(k)));
        }
        return out;
    }
    if (value.is_array()) {
        json out = json::array();
        for (std::size_t i = 0; i < value.size(); ++i) {
            out.push_back(substitute(value[i], params, where, cat(path, "/", i)));
        }
        return out;
    }
    if (!value.is_string()) {
        return value;
    }
    const auto& s = value.get_ref<const std::string&>();
    if (s.find('$') == std::string::npos) {
        return value;
    }
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s.compare(i, 3, "$${") == 0) {
            out += "${";
            i += 2;
            continue;
        }
        if (s.compare(i, 2, "${") != 0) {
            out += s[i];
            continue;
        }
        const auto end = s.find('}', i + 2);
        if (end == std::string::npos) {
            where.fail(path, cat(quote(s), ": unterminated ${ (write $${ for a literal ${)"));
        }
        const auto name = s.substr(i + 2, end - i - 2);
        if (!params.contains(name)) {
            std::string known;
            for (const auto& [k, v] : params.items()) {
                known += known.empty() ? k : ", " + k;
            }
            where.fail(path, cat(quote(s), ": unknown parameter ", quote(name),
                                 known.empty() ? " (the scenario has no matrix)"
                                               : cat(" (matrix parameters: ", known, ")")));
        }
        if (i == 0 && end == s.size() - 1) {
            return params[name];
        }
        out += param_text(params[name]);
        i = end;
    }
    return out;
}

// The matrix's combinations, in key order with the last key varying fastest.
void check_parameter(const std::string& key, const json& v, const Fields& f,
                     const std::string& at) {
    if (!is_identifier(key)) {
        f.fail(pointer_token(key),
               "parameter names are letters, digits and _ , not starting with a digit");
    }
    if (!v.is_string() && !v.is_number() && !v.is_boolean()) {
        f.fail(at, cat("must be a string, number or boolean, not ", kind_of(v)));
    }
}

// An array of parameter sets: one scenario per element, each with the same names.
std::vector<json> matrix_rows(const json& rows, const Fields& f) {
    if (rows.empty()) {
        f.fail("", "must have at least one parameter set");
    }
    if (rows.size() > kMaxMatrixCombinations) {
        f.fail("", cat("has more than ", kMaxMatrixCombinations, " parameter sets"));
    }
    std::vector<json> out;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& row = rows[i];
        if (!row.is_object() || row.empty()) {
            f.fail(cat(i), cat("must be a non-empty object of parameters, not ",
                               row.is_object() ? "an empty object" : kind_of(row)));
        }
        for (const auto& [key, v] : row.items()) {
            check_parameter(key, v, Fields(f.where(), f.at(cat(i))), pointer_token(key));
        }
        if (i > 0) {
            for (const auto& [key, v] : rows[0].items()) {
                if (!row.contains(key)) {
                    f.fail(cat(i), cat("lacks parameter ", quote(key), " that set 0 has"));
                }
            }
            for (const auto& [key, v] : row.items()) {
                if (!rows[0].contains(key)) {
                    f.fail(cat(i, "/", pointer_token(key)),
                           cat("parameter ", quote(key), " is not in set 0"));
                }
            }
        }
        out.push_back(row);
    }
    return out;
}

// A matrix is an object (every combination of its values) or an array of
// parameter sets.
std::vector<json> expand_matrix(const json& matrix, const Fields& f) {
    if (matrix.is_array()) {
        return matrix_rows(matrix, f);
    }
    if (!matrix.is_object()) {
        f.fail("", cat("must be an object (parameter: values) or an array of parameter sets, not ",
                       kind_of(matrix)));
    }
    std::vector<json> combos{json::object()};
    if (matrix.empty()) {
        f.fail("", "must have at least one parameter");
    }
    for (const auto& [key, values] : matrix.items()) {
        if (!is_identifier(key)) {
            f.fail(pointer_token(key),
                   "parameter names are letters, digits and _ , not starting "
                   "with a digit");
        }
        if (!values.is_array() || values.empty()) {
            f.fail(key, cat("must be a non-empty array of values, not ",
                            values.is_array() ? "an empty array" : kind_of(values)));
        }
        for (std::size_t i = 0; i < values.size(); ++i) {
            check_parameter(key, values[i], f, cat(pointer_token(key), "/", i));
        }
        if (combos.size() * values.size() > kMaxMatrixCombinations) {
            f.fail("", cat("has more than ", kMaxMatrixCombinations, " combinations"));
        }
        std::vector<json> next;
        for (const auto& c : combos) {
            for (const auto& v : values) {
                auto n = c;
                n[key] = v;
                next.push_back(std::move(n));
            }
        }
        combos = std::move(next);
    }
    return combos;
}

// ---------------------------------------------------------------------------
// Assertions.

Assertion parse_assertion(const json& value, const Fields& f, bool allow_ref) {
    f.object(value);
    f.keys(value,
           {"name", "pointer", "count", "where", "op", "value", "ref", "scale", "tolerance",
            "relative_tolerance"},
           "an assertion");
    Assertion a;
    a.field = f.path();
    if (value.contains("name")) {
        a.name = f.string(value["name"], "name");
    }
    if (!value.contains("pointer")) {
        f.fail("pointer", "is required (a JSON pointer into the result, \"\" for all of it)");
    }
    a.pointer = f.pointer(value["pointer"], "pointer");
    if (!value.contains("op")) {
        f.fail("op", "is required (one of ==, !=, <, <=, >, >=, approx, exists, absent)");
    }
    const auto op_text = f.string(value["op"], "op");
    const auto op = op_from_string(op_text);
    if (!op) {
        f.fail("op", cat(quote(op_text),
                         " is not an operator (one of ==, !=, <, <=, >, >=, approx, exists, "
                         "absent)"));
    }
    a.op = *op;
    if (value.contains("count")) {
        a.count = f.boolean(value["count"], "count");
    }
    if (value.contains("where")) {
        if (!a.count) {
            f.fail("where", "needs \"count\": true");
        }
        const auto& w = value["where"];
        if (!w.is_array() || w.empty()) {
            f.fail("where", cat("must be a non-empty array of assertions, not ",
                                w.is_array() ? "an empty array" : kind_of(w)));
        }
        for (std::size_t i = 0; i < w.size(); ++i) {
            const Fields wf(f.where(), f.at(cat("where/", i)));
            a.where.push_back(parse_assertion(w[i], wf, false));
        }
    }
    const bool presence = a.op == Op::exists || a.op == Op::absent;
    if (presence) {
        for (const char* key : {"value", "ref", "scale", "tolerance", "relative_tolerance"}) {
            if (value.contains(key)) {
                f.fail(key, cat("does not apply to op ", quote(op_text)));
            }
        }
        if (a.count) {
            f.fail("count", cat("does not apply to op ", quote(op_text)));
        }
        return a;
    }
    if (value.contains("value") == value.contains("ref")) {
        f.fail("value", cat("op ", quote(op_text),
                            " needs exactly one of \"value\" (a literal) and \"ref\" (a JSON "
                            "pointer into the saved results)"));
    }
    const bool numeric = a.op != Op::eq && a.op != Op::ne;
    if (value.contains("value")) {
        a.value = value["value"];
        if ((numeric || a.count) && !a.value->is_number()) {
            f.fail("value", cat("must be a number for op ", quote(op_text),
                                a.count ? " with count" : "", ", not ", kind_of(*a.value)));
        }
    } else {
        if (!allow_ref) {
            f.fail("ref", "is not allowed inside \"where\"");
        }
        a.ref = f.pointer(value["ref"], "ref");
    }
    if (value.contains("scale")) {
        a.scale = f.number(value["scale"], "scale");
        if (a.value && !a.value->is_number()) {
            f.fail("scale", "needs a numeric value");
        }
    }
    const bool has_abs = value.contains("tolerance");
    const bool has_rel = value.contains("relative_tolerance");
    if (a.op == Op::approx) {
        if (has_abs == has_rel) {
            f.fail("tolerance",
                   "op 'approx' needs exactly one of \"tolerance\" (absolute) and "
                   "\"relative_tolerance\" (a fraction of the expected value)");
        }
        const char* key = has_abs ? "tolerance" : "relative_tolerance";
        const double t = f.number(value[key], key);
        if (!std::isfinite(t) || t < 0) {
            f.fail(key, cat(value[key].dump(), " must be a number of at least 0"));
        }
        (has_abs ? a.tolerance : a.relative_tolerance) = t;
    } else if (has_abs || has_rel) {
        f.fail(has_abs ? "tolerance" : "relative_tolerance", "applies only to op 'approx'");
    }
    return a;
}

// ---------------------------------------------------------------------------
// Steps.

struct StepKind {
    StepType type;
    KeySet keys;   // besides the common ones
    bool results;  // has a result: save and assert apply
};

const std::map<std::string, StepKind, std::less<>>& step_kinds() {
    static const std::map<std::string, StepKind, std::less<>> kinds = {
        {"exec",
         {StepType::exec, {"path", "args", "env", "expect_exit", "stdout", "background"}, true}},
        {"exec_wait", {StepType::exec_wait, {"exec"}, true}},
        {"query", {StepType::query, {"command", "arguments"}, true}},
        {"wait_event", {StepType::wait_event, {"event", "data"}, true}},
        {"wait_until", {StepType::wait_until, {"command", "arguments", "interval"}, true}},
        {"pause", {StepType::pause, {}, false}},
        {"resume", {StepType::resume, {}, false}},
        {"sleep", {StepType::sleep, {"seconds"}, false}},
        {"check", {StepType::check, {}, true}},
        {"require", {StepType::require, {"commands", "guest_paths", "reason"}, false}},
    };
    return kinds;
}

std::string known_step_types() {
    std::string out;
    for (const auto& [name, kind] : step_kinds()) {
        out += out.empty() ? name : ", " + name;
    }
    return out;
}

std::string default_step_name(const Step& s) {
    switch (s.type) {
        case StepType::exec: {
            auto base = std::filesystem::path(s.path).filename().string();
            for (const auto& a : s.args) {
                base += " " + a;
            }
            constexpr std::size_t kMax = 60;
            if (base.size() > kMax) {
                base = base.substr(0, kMax - 3) + "...";
            }
            return "exec " + base;
        }
        case StepType::exec_wait:
            return "wait for " + s.exec;
        case StepType::query:
            return "query " + s.command;
        case StepType::wait_event:
            return "wait for " + s.event;
        case StepType::wait_until:
            return "wait until " + s.command;
        case StepType::pause:
            return "pause";
        case StepType::resume:
            return "resume";
        case StepType::sleep:
            return cat("sleep ", json(s.sleep_seconds).dump(), " s");
        case StepType::check:
            return "check";
        case StepType::require: {
            std::string what;
            for (const auto& c : s.commands) {
                what += " " + c;
            }
            for (const auto& p : s.guest_paths) {
                what += " " + p;
            }
            return "require" + what;
        }
    }
    return "step";
}

Step parse_step(const json& value, std::size_t index, const Where& scenario_where,
                const std::string& path) {
    Step s;
    s.index = index;
    s.field = path;
    // The name first, so that every later message can name the step.
    if (value.is_object() && value.contains("name") && value["name"].is_string()) {
        s.name = value["name"].get<std::string>();
    }
    const Where where = scenario_where.step(index, s.name);
    const Fields f(where, path);
    f.object(value);
    if (!value.contains("type")) {
        f.fail("type", cat("is required (one of ", known_step_types(), ")"));
    }
    const auto type_text = f.string(value["type"], "type");
    const auto kind = step_kinds().find(type_text);
    if (kind == step_kinds().end()) {
        f.fail("type",
               cat(quote(type_text), " is not a step type (known: ", known_step_types(), ")"));
    }
    s.type = kind->second.type;
    KeySet allowed = {"type", "name", "always"};
    if (s.type != StepType::sleep && s.type != StepType::check) {
        allowed.insert("timeout");
    }
    if (kind->second.results) {
        allowed.insert("assert");
        if (s.type != StepType::check && s.type != StepType::exec_wait) {
            allowed.insert("save");
        }
    }
    allowed.insert(kind->second.keys.begin(), kind->second.keys.end());
    f.keys(value, allowed, cat("a ", type_text, " step"));

    if (value.contains("name")) {
        s.name = f.string(value["name"], "name");
    }
    if (value.contains("always")) {
        s.always = f.boolean(value["always"], "always");
    }
    if (value.contains("timeout")) {
        s.timeout_seconds = f.seconds(value["timeout"], "timeout", false);
    }
    if (value.contains("save")) {
        s.save = f.string(value["save"], "save");
        if (s.save.find_first_of("/~") != std::string::npos) {
            f.fail("save", cat(quote(s.save), " must not contain / or ~"));
        }
    }
    if (value.contains("assert")) {
        const auto& list = value["assert"];
        if (!list.is_array()) {
            f.fail("assert", cat("must be an array of assertions, not ", kind_of(list)));
        }
        for (std::size_t i = 0; i < list.size(); ++i) {
            const Fields af(where, f.at(cat("assert/", i)));
            s.asserts.push_back(parse_assertion(list[i], af, true));
        }
    }

    switch (s.type) {
        case StepType::exec: {
            if (!value.contains("path")) {
                f.fail("path", "is required (the program to run in the guest)");
            }
            s.path = f.string(value["path"], "path");
            if (s.path.front() != '/') {
                f.fail("path", cat(quote(s.path), " must be an absolute path in the guest"));
            }
            if (value.contains("args")) {
                s.args = f.words(value["args"], "args");
            }
            if (value.contains("env")) {
                s.env = f.words(value["env"], "env");
                for (std::size_t i = 0; i < s.env.size(); ++i) {
                    const auto eq = s.env[i].find('=');
                    if (eq == std::string::npos || eq == 0) {
                        f.fail(cat("env/", i), cat(quote(s.env[i]), " is not NAME=VALUE"));
                    }
                }
            }
            if (value.contains("expect_exit")) {
                const auto& e = value["expect_exit"];
                if (e.is_string() && e.get<std::string>() == "any") {
                    s.expect_exit.reset();
                } else if (e.is_number_integer() && e.get<std::int64_t>() >= 0 &&
                           e.get<std::int64_t>() <= 255) {
                    s.expect_exit = e.get<int>();
                } else {
                    f.fail("expect_exit",
                           cat(e.dump(), " is not an exit status (0 to 255) or \"any\""));
                }
            }
            if (value.contains("background")) {
                s.background = f.boolean(value["background"], "background");
            }
            if (s.background && s.save.empty()) {
                f.fail("save", "is required for a background exec: its exec_wait step names it");
            }
            if (s.background && !s.asserts.empty()) {
                f.fail("assert",
                       "a background exec has no result yet; put the assertions on its "
                       "exec_wait step");
            }
            if (value.contains("stdout")) {
                const auto o = f.string(value["stdout"], "stdout");
                if (o == "text") {
                    s.output = OutputFormat::text;
                } else if (o == "json") {
                    s.output = OutputFormat::json;
                } else if (o == "json-lines") {
                    s.output = OutputFormat::json_lines;
                } else {
                    f.fail("stdout", cat(quote(o), " is not one of text, json, json-lines"));
                }
            }
            break;
        }
        case StepType::exec_wait:
            if (!value.contains("exec")) {
                f.fail("exec", "is required (the save name of an earlier background exec step)");
            }
            s.exec = f.string(value["exec"], "exec");
            break;
        case StepType::query:
        case StepType::wait_until:
            if (!value.contains("command")) {
                f.fail("command", "is required (a control-socket command name)");
            }
            s.command = f.string(value["command"], "command");
            if (value.contains("arguments")) {
                if (!value["arguments"].is_object()) {
                    f.fail("arguments",
                           cat("must be an object, not ", kind_of(value["arguments"])));
                }
                s.arguments = value["arguments"];
            }
            if (value.contains("interval")) {
                s.interval_seconds = f.seconds(value["interval"], "interval", false);
            }
            break;
        case StepType::wait_event:
            if (!value.contains("event")) {
                f.fail("event", "is required (an event name such as SHUTDOWN)");
            }
            s.event = f.string(value["event"], "event");
            if (value.contains("data")) {
                if (!value["data"].is_object()) {
                    f.fail("data", cat("must be an object, not ", kind_of(value["data"])));
                }
                s.event_data = value["data"];
            }
            break;
        case StepType::sleep:
            if (!value.contains("seconds")) {
                f.fail("seconds", "is required");
            }
            s.sleep_seconds = f.seconds(value["seconds"], "seconds", true);
            break;
        case StepType::check:
            if (s.asserts.empty()) {
                f.fail("assert", "is required: a check step needs at least one assertion");
            }
            break;
        case StepType::require:
            if (value.contains("commands")) {
                s.commands = f.words(value["commands"], "commands");
            }
            if (value.contains("guest_paths")) {
                s.guest_paths = f.words(value["guest_paths"], "guest_paths");
                for (std::size_t i = 0; i < s.guest_paths.size(); ++i) {
                    if (s.guest_paths[i].empty() || s.guest_paths[i].front() != '/') {
                        f.fail(
                            cat("guest_paths/", i),
                            cat(quote(s.guest_paths[i]), " must be an absolute path in the guest"));
                    }
                }
            }
            if (s.commands.empty() && s.guest_paths.empty()) {
                f.fail("commands", "a require step needs at least one of commands and guest_paths");
            }
            if (value.contains("reason")) {
                s.reason = f.string(value["reason"], "reason");
            }
            break;
        case StepType::pause:
        case StepType::resume:
            break;
    }
    if (s.name.empty()) {
        s.name = default_step_name(s);
    }
    return s;
}

// ---------------------------------------------------------------------------
// The VM config: inline, by reference, or a reference with overrides.

const std::vector<std::string>& path_keys() {
    static const std::vector<std::string> keys = {"kernel",         "initramfs",   "profile",
                                                  "control_socket", "console_log", "agent_socket"};
    return keys;
}

// Makes the relative paths in a config absolute against `folder`.
void absolutize(json& config, const std::filesystem::path& folder) {
    for (const auto& key : path_keys()) {
        if (config.contains(key) && config[key].is_string()) {
            std::filesystem::path p(config[key].get<std::string>());
            if (!p.empty() && p.is_relative()) {
                config[key] = (folder / p).lexically_normal().string();
            }
        }
    }
}

json read_json_file(const std::filesystem::path& file, const Fields& f, std::string_view key) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        f.fail(key,
               cat("config ", quote(file.string()), " cannot be read (", errno_text(errno), ")"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    try {
        return json::parse(buffer.str());
    } catch (const json::parse_error& e) {
        f.fail(key, cat("config ", quote(file.string()), " is not valid JSON (", e.what(), ")"));
    }
}

struct VmResult {
    std::optional<VmConfig> config;
    std::string skip_reason;
};

VmResult parse_vm(const json& value, const Fields& f, const std::filesystem::path& file) {
    const auto folder = file.parent_path();
    json config;
    if (value.is_string()) {
        auto ref = std::filesystem::path(f.string(value, ""));
        if (ref.is_relative()) {
            ref = folder / ref;
        }
        config = read_json_file(ref.lexically_normal(), f, "");
        if (!config.is_object()) {
            f.fail("", cat("config ", quote(ref.string()), " must be an object, not ",
                           kind_of(config)));
        }
        absolutize(config, ref.parent_path());
    } else if (value.is_object()) {
        config = value;
        absolutize(config, folder);
        if (value.contains("base")) {
            auto ref = std::filesystem::path(f.string(value["base"], "base"));
            if (ref.is_relative()) {
                ref = folder / ref;
            }
            json base = read_json_file(ref.lexically_normal(), f, "base");
            if (!base.is_object()) {
                f.fail("base", cat("config ", quote(ref.string()), " must be an object, not ",
                                   kind_of(base)));
            }
            absolutize(base, ref.parent_path());
            config.erase("base");
            base.merge_patch(config);
            config = std::move(base);
        }
    } else {
        f.fail("", cat("must be a config file name or an object, not ", kind_of(value)));
    }

    // Missing guest images make the scenario skip, not fail: the rest of the
    // config is still validated, with the missing files stood in for.
    VmResult result;
    json checked = config;
    for (const char* key : {"kernel", "initramfs", "profile"}) {
        if (!config.contains(key) || !config[key].is_string()) {
            continue;
        }
        const std::filesystem::path p(config[key].get<std::string>());
        std::error_code ec;
        if (!p.empty() && !std::filesystem::exists(p, ec)) {
            if (result.skip_reason.empty()) {
                result.skip_reason =
                    cat("prerequisite missing: ", key, " ", quote(p.string()), " does not exist");
            }
            checked[key] = file.string();
        }
    }
    try {
        auto parsed = parse_vm_config(checked, file, f.path());
        if (result.skip_reason.empty()) {
            result.config = std::move(parsed);
        }
    } catch (const Error& e) {
        // parse_vm_config names the file and the full JSON path; keep its
        // message, without repeating the file name.
        std::string what = e.what();
        const auto prefix = cat("config ", quote(file.string()), ": ");
        if (starts_with(what, prefix)) {
            what = what.substr(prefix.size());
        }
        f.where().fail_text(what);
    }
    return result;
}

ConsolePolicy parse_console(const json& value, const Fields& f) {
    f.object(value);
    f.keys(value, {"defaults", "forbid", "allow", "require"}, "the console policy");
    ConsolePolicy p;
    if (value.contains("defaults")) {
        p.defaults = f.boolean(value["defaults"], "defaults");
    }
    if (value.contains("forbid")) {
        p.forbid = f.patterns(value["forbid"], "forbid");
    }
    if (value.contains("allow")) {
        p.allow = f.patterns(value["allow"], "allow");
    }
    if (value.contains("require")) {
        p.require = f.patterns(value["require"], "require");
    }
    return p;
}

ExpectedOutcome parse_expect(const json& value, const Fields& f) {
    f.object(value);
    f.keys(value, {"outcome", "patterns"}, "the expected outcome");
    ExpectedOutcome e;
    if (value.contains("outcome")) {
        const auto o = f.string(value["outcome"], "outcome");
        if (o == "success") {
            e.outcome = Outcome::success;
        } else if (o == "out-of-memory") {
            e.outcome = Outcome::out_of_memory;
        } else {
            f.fail("outcome", cat(quote(o), " is not one of success, out-of-memory"));
        }
    }
    if (value.contains("patterns")) {
        if (e.outcome != Outcome::out_of_memory) {
            f.fail("patterns", "applies only to outcome 'out-of-memory'");
        }
        e.patterns = f.patterns(value["patterns"], "patterns");
    } else if (e.outcome == Outcome::out_of_memory) {
        e.patterns = default_oom_patterns();
    }
    return e;
}

bool valid_scenario_name(std::string_view name) {
    if (name.empty() || name.size() > 100) {
        return false;
    }
    for (char c : name) {
        if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-' && c != '.' &&
            c != '+') {
            return false;
        }
    }
    return true;
}

}  // namespace

std::string_view to_string(StepType type) {
    for (const auto& [name, kind] : step_kinds()) {
        if (kind.type == type) {
            return name;
        }
    }
    return "?";
}

std::string_view to_string(Outcome outcome) {
    return outcome == Outcome::success ? "success" : "out-of-memory";
}

const std::vector<std::string>& default_forbidden_patterns() {
    static const std::vector<std::string> patterns = {
        "BUG:",
        "WARNING:",
        "KASAN:",
        "UBSAN:",
        "KFENCE:",
        "Oops",
        "Kernel panic",
        "general protection fault",
        "Unable to handle kernel",
        "kernel BUG at",
        "possible circular locking dependency",
        "possible recursive locking",
        "inconsistent lock state",
        "suspicious RCU usage",
        "list_add corruption",
        "list_del corruption",
        "Bad page state",
        "Bad rss-counter",
        "INFO: task .* blocked for more than",
        "watchdog: BUG: soft lockup",
    };
    return patterns;
}

const std::vector<std::string>& default_oom_patterns() {
    static const std::vector<std::string> patterns = {
        "invoked oom-killer",
        "Out of memory: Killed process",
        "Out of memory and no killable processes",
        "page allocation failure",
        "oom_reaper: reaped process",
        "Memory cgroup out of memory",
    };
    return patterns;
}

ScenarioFile parse_scenario_file(const json& doc, const std::filesystem::path& file) {
    const auto abs = std::filesystem::absolute(file).lexically_normal();
    const Where where(abs.string());
    const Fields top(where, "");
    top.object(doc);
    top.keys(doc, {"description", "defaults", "scenarios"}, "a scenario file");

    ScenarioFile out;
    out.path = abs;
    if (doc.contains("description")) {
        out.description = top.string(doc["description"], "description", false);
    }
    json defaults = json::object();
    if (doc.contains("defaults")) {
        const Fields df(where, "/defaults");
        df.object(doc["defaults"]);
        df.keys(doc["defaults"], {"vm", "timeout", "console", "expect", "setup"}, "the defaults");
        defaults = doc["defaults"];
    }
    if (!doc.contains("scenarios")) {
        top.fail("scenarios", "is required (an array of scenarios)");
    }
    const auto& list = doc["scenarios"];
    if (!list.is_array() || list.empty()) {
        top.fail("scenarios", cat("must be a non-empty array of scenarios, not ",
                                  list.is_array() ? "an empty array" : kind_of(list)));
    }

    std::set<std::string, std::less<>> names;
    for (std::size_t t = 0; t < list.size(); ++t) {
        const auto path = cat("/scenarios/", t);
        const auto& raw = list[t];
        const Fields sf0(where, path);
        sf0.object(raw);
        sf0.keys(raw,
                 {"name", "description", "matrix", "vm", "timeout", "console", "expect", "setup",
                  "steps"},
                 "a scenario");
        if (!raw.contains("name")) {
            sf0.fail("name", "is required");
        }
        (void)sf0.string(raw["name"], "name");

        std::vector<json> combos{json::object()};
        if (raw.contains("matrix")) {
            combos = expand_matrix(raw["matrix"], Fields(where, path + "/matrix"));
        }
        for (const auto& params : combos) {
            // The scenario with the defaults filled in, then parameters substituted.
            json merged = raw;
            merged.erase("matrix");
            for (const auto& [key, value] : defaults.items()) {
                if (!merged.contains(key)) {
                    merged[key] = value;
                }
            }
            const auto index = out.scenarios.size();
            const Where pre = where.scenario(index, raw["name"].get<std::string>());
            json s = substitute(merged, params, pre, path);

            Scenario sc;
            sc.file = abs;
            sc.index = index;
            sc.parameters = params;
            sc.name = s["name"].get<std::string>();
            const Where sw = where.scenario(index, sc.name);
            const Fields sf(sw, path);
            if (!valid_scenario_name(sc.name)) {
                sf.fail("name", cat(quote(sc.name),
                                    " must be 1 to 100 characters from A-Z a-z "
                                    "0-9 _ - . +"));
            }
            if (!names.insert(sc.name).second) {
                sf.fail(
                    "name",
                    cat(quote(sc.name), " is used twice in this file",
                        raw.contains("matrix") ? " (put every matrix parameter in the name)" : ""));
            }
            if (s.contains("description")) {
                sc.description = sf.string(s["description"], "description", false);
            }
            if (!s.contains("vm")) {
                sf.fail("vm",
                        "is required (a config file name or an inline config), here or in "
                        "/defaults");
            }
            {
                const bool from_defaults = !raw.contains("vm");
                const Fields vf(sw, from_defaults ? "/defaults/vm" : path + "/vm");
                auto vm = parse_vm(s["vm"], vf, abs);
                sc.vm = std::move(vm.config);
                sc.skip_reason = std::move(vm.skip_reason);
            }
            if (s.contains("timeout")) {
                sc.time_limit_seconds = sf.seconds(s["timeout"], "timeout", false);
            }
            if (s.contains("console")) {
                sc.console = parse_console(
                    s["console"],
                    Fields(sw, raw.contains("console") ? path + "/console" : "/defaults/console"));
            }
            if (s.contains("expect")) {
                sc.expect = parse_expect(
                    s["expect"],
                    Fields(sw, raw.contains("expect") ? path + "/expect" : "/defaults/expect"));
            }
            const auto add_steps = [&](const json& steps, const std::string& steps_path,
                                       bool required) {
                if (!steps.is_array() || (required && steps.empty())) {
                    sw.fail(steps_path,
                            cat("must be a", required ? " non-empty" : "n", " array of steps, not ",
                                steps.is_array() ? "an empty array" : kind_of(steps)));
                }
                for (std::size_t i = 0; i < steps.size(); ++i) {
                    sc.steps.push_back(
                        parse_step(steps[i], sc.steps.size(), sw, cat(steps_path, "/", i)));
                }
            };
            if (s.contains("setup")) {
                add_steps(s["setup"], raw.contains("setup") ? path + "/setup" : "/defaults/setup",
                          false);
            }
            if (!s.contains("steps")) {
                sf.fail("steps", "is required (a non-empty array of steps)");
            }
            add_steps(s["steps"], path + "/steps", true);

            std::set<std::string, std::less<>> saved;
            std::map<std::string, std::size_t, std::less<>> background;
            std::set<std::string, std::less<>> waited;
            for (auto& step : sc.steps) {
                const auto where_step = sw.step(step.index, step.name);
                if (!step.save.empty() && !saved.insert(step.save).second) {
                    where_step.fail(step.field + "/save",
                                    cat(quote(step.save), " is already saved by an earlier step"));
                }
                if (step.background) {
                    background[step.save] = step.index;
                }
                if (step.type == StepType::exec_wait) {
                    const auto it = background.find(step.exec);
                    if (it == background.end()) {
                        where_step.fail(step.field + "/exec",
                                        cat(quote(step.exec),
                                            " is not the save name of an earlier "
                                            "background exec step"));
                    }
                    if (!waited.insert(step.exec).second) {
                        where_step.fail(step.field + "/exec",
                                        cat(quote(step.exec), " is already waited for"));
                    }
                    step.exec_step = it->second;
                }
            }
            out.scenarios.push_back(std::move(sc));
        }
    }
    return out;
}

ScenarioFile load_scenario_file(const std::filesystem::path& file) {
    const auto abs = std::filesystem::absolute(file).lexically_normal();
    std::ifstream in(abs, std::ios::binary);
    if (!in) {
        throw Error(cat("scenario file ", quote(abs.string()), ": cannot be read (",
                        errno_text(errno), ")"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        std::size_t line = 1;
        std::size_t column = 1;
        for (std::size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
            if (text[i] == '\n') {
                ++line;
                column = 1;
            } else {
                ++column;
            }
        }
        std::string what = e.what();
        const auto colon = what.find(": ", what.find("column"));
        throw Error(cat("scenario file ", quote(abs.string()), ": invalid JSON at line ", line,
                        ", column ", column,
                        colon == std::string::npos ? "" : cat(": ", what.substr(colon + 2))));
    }
    return parse_scenario_file(doc, abs);
}

}  // namespace mvmm::scenario
