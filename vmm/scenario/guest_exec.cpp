#include "guest_exec.hpp"

#include <array>
#include <cmath>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::scenario::detail {

using nlohmann::json;

json guest_exec_arguments(const Step& step, std::optional<double> timeout_seconds) {
    json args = {{"path", step.path}, {"capture-output", true}};
    if (!step.args.empty()) {
        args["args"] = step.args;
    }
    if (!step.env.empty()) {
        args["env"] = step.env;
    }
    if (timeout_seconds) {
        args["timeout"] = static_cast<std::int64_t>(std::ceil(*timeout_seconds));
    }
    return args;
}

std::uint64_t guest_exec_id(const json& reply) {
    if (!reply.is_object() || !reply.contains("exec-id") || !reply["exec-id"].is_number_integer() ||
        reply["exec-id"].get<std::int64_t>() < 0) {
        throw Error(cat("guest-exec reply has no exec id: ", reply.dump()));
    }
    return reply["exec-id"].get<std::uint64_t>();
}

std::string base64_decode(std::string_view text) {
    static constexpr auto kTable = [] {
        std::array<int, 256> t{};
        t.fill(-1);
        const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i) {
            t[static_cast<unsigned char>(alphabet[i])] = i;
        }
        return t;
    }();
    std::string out;
    out.reserve(text.size() / 4 * 3);
    std::uint32_t buffer = 0;
    int bits = 0;
    std::size_t pad = 0;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '=') {
            ++pad;
            continue;
        }
        if (c == '\n' || c == '\r') {
            continue;
        }
        const int v = kTable[static_cast<unsigned char>(c)];
        if (v < 0 || pad > 0) {
            throw Error(cat("invalid base64 at offset ", i));
        }
        buffer = (buffer << 6) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((buffer >> bits) & 0xff);
        }
    }
    if (pad > 2 || bits >= 6) {
        throw Error("invalid base64: truncated");
    }
    return out;
}

namespace {

std::optional<int> optional_int(const json& reply, const char* key) {
    if (!reply.contains(key) || reply[key].is_null()) {
        return std::nullopt;
    }
    if (!reply[key].is_number_integer()) {
        throw Error(cat("guest-exec-status reply: ", key, " is not an integer: ", reply.dump()));
    }
    return reply[key].get<int>();
}

std::string output(const json& reply, const char* b64_key, const char* text_key) {
    if (reply.contains(b64_key) && reply[b64_key].is_string()) {
        try {
            return base64_decode(reply[b64_key].get<std::string>());
        } catch (const Error& e) {
            throw Error(cat("guest-exec-status reply: ", b64_key, ": ", e.what()));
        }
    }
    if (reply.contains(text_key) && reply[text_key].is_string()) {
        return reply[text_key].get<std::string>();
    }
    return {};
}

}  // namespace

ExecStatus parse_exec_status(const json& reply) {
    if (!reply.is_object() || !reply.contains("exited") || !reply["exited"].is_boolean()) {
        throw Error(cat("guest-exec-status reply has no 'exited' flag: ", reply.dump()));
    }
    ExecStatus s;
    s.exited = reply["exited"].get<bool>();
    s.exit_code = optional_int(reply, "exitcode");
    s.signal = optional_int(reply, "signal");
    s.stdout_text = output(reply, "out-data", "stdout");
    s.stderr_text = output(reply, "err-data", "stderr");
    for (const char* key : {"out-truncated", "err-truncated"}) {
        if (reply.contains(key) && reply[key].is_boolean() && reply[key].get<bool>()) {
            s.truncated = true;
        }
    }
    return s;
}

}  // namespace mvmm::scenario::detail
