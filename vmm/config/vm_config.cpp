#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/config/vm_config.hpp>

namespace mvmm {
namespace {

using nlohmann::json;

// Line and column (1-based) of a byte offset into text.
std::pair<std::size_t, std::size_t> line_column(const std::string& text, std::size_t offset) {
    std::size_t line = 1;
    std::size_t column = 1;
    for (std::size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            column = 1;
        } else {
            ++column;
        }
    }
    return {line, column};
}

const char* type_name(const json& value) {
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

class Reader {
  public:
    Reader(std::filesystem::path source, std::string prefix)
        : source_(std::move(source)), prefix_(std::move(prefix)) {}

    [[noreturn]] void fail(std::string_view field, std::string_view reason) const {
        throw Error(cat("config ", quote(source_.string()), ": ", path(field), ": ", reason));
    }

    [[nodiscard]] std::string path(std::string_view field) const {
        return cat(prefix_, "/", field);
    }

    void check_keys(const json& object, std::string_view where,
                    const std::set<std::string, std::less<>>& allowed) const {
        for (const auto& [key, value] : object.items()) {
            if (!allowed.contains(key)) {
                std::string known;
                for (const auto& k : allowed) {
                    known += known.empty() ? k : ", " + k;
                }
                throw Error(cat("config ", quote(source_.string()), ": ", prefix_, where, "/", key,
                                ": unknown key (known keys: ", known, ")"));
            }
        }
    }

    [[nodiscard]] std::string string(const json& value, std::string_view field) const {
        if (!value.is_string()) {
            fail(field, cat("must be a string, not ", type_name(value)));
        }
        return value.get<std::string>();
    }

    [[nodiscard]] bool boolean(const json& value, std::string_view field) const {
        if (!value.is_boolean()) {
            fail(field, cat("must be true or false, not ", type_name(value)));
        }
        return value.get<bool>();
    }

    [[nodiscard]] std::uint64_t integer(const json& value, std::string_view field,
                                        std::uint64_t min, std::uint64_t max) const {
        if (!value.is_number_integer()) {
            fail(field, cat("must be an integer from ", min, " to ", max, ", not ",
                            value.is_number() ? value.dump() : type_name(value)));
        }
        if (value.is_number_unsigned()) {
            const auto v = value.get<std::uint64_t>();
            if (v >= min && v <= max) {
                return v;
            }
        }
        fail(field, cat(value.dump(), " is out of range (allowed: ", min, " to ", max, ")"));
    }

    [[nodiscard]] std::filesystem::path file(const json& value, std::string_view field,
                                             bool must_exist) const {
        const auto text = string(value, field);
        if (text.empty()) {
            fail(field, "must not be empty");
        }
        std::filesystem::path p(text);
        if (p.is_relative()) {
            p = source_.parent_path() / p;
        }
        p = p.lexically_normal();
        if (must_exist) {
            std::error_code ec;
            const auto status = std::filesystem::status(p, ec);
            if (!std::filesystem::exists(status)) {
                fail(field, cat("file ", quote(p.string()), " does not exist"));
            }
            if (std::filesystem::is_directory(status)) {
                fail(field, cat(quote(p.string()), " is a directory, not a file"));
            }
        }
        return p;
    }

  private:
    std::filesystem::path source_;
    std::string prefix_;
};

EngineChoice parse_engine(const Reader& r, const json& value) {
    const auto text = r.string(value, "engine");
    if (text == "auto") {
        return EngineChoice::automatic;
    }
    if (text == "kvm") {
        return EngineChoice::kvm;
    }
    if (text == "qemu") {
        return EngineChoice::qemu;
    }
    r.fail("engine", cat(quote(text), " is not one of auto, kvm, qemu"));
}

QemuOptions parse_qemu(const Reader& r, const json& value) {
    if (!value.is_object()) {
        r.fail("qemu", cat("must be an object, not ", type_name(value)));
    }
    r.check_keys(value, "/qemu", {"binary", "machine", "accel", "extra_args"});
    QemuOptions q;
    if (value.contains("binary")) {
        q.binary = r.string(value["binary"], "qemu/binary");
        if (q.binary.empty()) {
            r.fail("qemu/binary", "must not be empty");
        }
    }
    if (value.contains("machine")) {
        q.machine = r.string(value["machine"], "qemu/machine");
        if (q.machine != "microvm" && q.machine != "q35") {
            r.fail("qemu/machine", cat(quote(q.machine), " is not one of microvm, q35"));
        }
    }
    if (value.contains("accel")) {
        q.accel = r.string(value["accel"], "qemu/accel");
        if (q.accel != "tcg" && q.accel != "kvm") {
            r.fail("qemu/accel", cat(quote(q.accel), " is not one of tcg, kvm"));
        }
    }
    if (value.contains("extra_args")) {
        const auto& args = value["extra_args"];
        if (!args.is_array()) {
            r.fail("qemu/extra_args", cat("must be an array of strings, not ", type_name(args)));
        }
        for (std::size_t i = 0; i < args.size(); ++i) {
            q.extra_args.push_back(r.string(args[i], cat("qemu/extra_args/", i)));
        }
    }
    return q;
}

}  // namespace

std::string_view to_string(EngineChoice choice) {
    switch (choice) {
        case EngineChoice::automatic:
            return "auto";
        case EngineChoice::kvm:
            return "kvm";
        case EngineChoice::qemu:
            return "qemu";
    }
    return "auto";
}

VmConfig parse_vm_config(const json& doc, const std::filesystem::path& source,
                         std::string_view json_path) {
    const auto abs_source = std::filesystem::absolute(source).lexically_normal();
    const Reader r(abs_source, std::string(json_path));
    if (!doc.is_object()) {
        throw Error(cat("config ", quote(abs_source.string()), ": ",
                        json_path.empty() ? "the document" : json_path, " must be an object, not ",
                        type_name(doc)));
    }
    r.check_keys(doc, "",
                 {"name", "kernel", "initramfs", "cmdline", "vcpus", "memory_mib", "engine", "qemu",
                  "control_socket", "console_log", "agent_socket", "console_stdout", "profile"});

    VmConfig c;
    c.source = abs_source;
    if (doc.contains("name")) {
        c.name = r.string(doc["name"], "name");
        static const std::regex kName("[A-Za-z0-9_.-]{1,64}");
        if (!std::regex_match(c.name, kName)) {
            r.fail("name",
                   cat(quote(c.name), " must be 1 to 64 characters from A-Z a-z 0-9 _ . -"));
        }
    }
    if (!doc.contains("kernel")) {
        r.fail("kernel", "is required (a bzImage or vmlinux ELF file)");
    }
    c.kernel = r.file(doc["kernel"], "kernel", true);
    if (doc.contains("initramfs")) {
        c.initramfs = r.file(doc["initramfs"], "initramfs", true);
    }
    if (doc.contains("cmdline")) {
        c.cmdline = r.string(doc["cmdline"], "cmdline");
    }
    if (doc.contains("vcpus")) {
        c.vcpus = static_cast<unsigned>(
            r.integer(doc["vcpus"], "vcpus", VmConfig::kMinVcpus, VmConfig::kMaxVcpus));
    }
    if (doc.contains("memory_mib")) {
        c.memory_mib = r.integer(doc["memory_mib"], "memory_mib", VmConfig::kMinMemoryMib,
                                 VmConfig::kMaxMemoryMib);
    }
    if (doc.contains("engine")) {
        c.engine = parse_engine(r, doc["engine"]);
    }
    if (doc.contains("qemu")) {
        c.qemu = parse_qemu(r, doc["qemu"]);
    }
    if (doc.contains("control_socket")) {
        c.control_socket = r.file(doc["control_socket"], "control_socket", false);
    }
    if (doc.contains("console_log")) {
        c.console_log = r.file(doc["console_log"], "console_log", false);
    }
    if (doc.contains("agent_socket")) {
        c.agent_socket = r.file(doc["agent_socket"], "agent_socket", false);
    }
    if (doc.contains("console_stdout")) {
        c.console_stdout = r.boolean(doc["console_stdout"], "console_stdout");
    }
    if (doc.contains("profile")) {
        c.profile = r.file(doc["profile"], "profile", true);
    }
    return c;
}

VmConfig load_vm_config(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error(
            cat("config ", quote(file.string()), ": cannot be read (", errno_text(errno), ")"));
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string text = buffer.str();
    json doc;
    try {
        doc = json::parse(text);
    } catch (const json::parse_error& e) {
        const auto [line, column] = line_column(text, e.byte > 0 ? e.byte - 1 : 0);
        std::string what = e.what();
        // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 2:
        // syntax error while parsing ..."; keep only the part after the position.
        const auto colon = what.find(": ", what.find("column"));
        throw Error(cat("config ", quote(file.string()), ": invalid JSON at line ", line,
                        ", column ", column,
                        colon == std::string::npos ? "" : cat(": ", what.substr(colon + 2))));
    }
    return parse_vm_config(doc, file);
}

nlohmann::json to_json(const VmConfig& c) {
    json j = {
        {"name", c.name},
        {"kernel", c.kernel.string()},
        {"cmdline", c.cmdline},
        {"vcpus", c.vcpus},
        {"memory_mib", c.memory_mib},
        {"engine", to_string(c.engine)},
        {"qemu",
         {{"binary", c.qemu.binary},
          {"machine", c.qemu.machine},
          {"accel", c.qemu.accel},
          {"extra_args", c.qemu.extra_args}}},
        {"control_socket", c.control_socket.string()},
        {"console_log", c.console_log.string()},
        {"agent_socket", c.agent_socket.string()},
        {"console_stdout", c.console_stdout},
    };
    if (c.initramfs) {
        j["initramfs"] = c.initramfs->string();
    }
    if (c.profile) {
        j["profile"] = c.profile->string();
    }
    return j;
}

}  // namespace mvmm
