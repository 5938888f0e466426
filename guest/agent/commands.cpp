#include "commands.hpp"

#include <algorithm>
#include <array>
#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mvmm/agent/base64.hpp>
#include <mvmm/agent/protocol.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>

#include "args.hpp"
#include "command_error.hpp"
#include "system_info.hpp"

namespace mvmm::agent {
namespace {

using nlohmann::json;

constexpr unsigned long kMshareMagic = 0x4d534852;  // "MSHR", MSHARE_MAGIC

json sync_command(const json& arguments, const char* name) {
    const Args args(arguments, name);
    args.allow_only({"id"});
    if (!args.has("id")) {
        throw CommandError(std::string(name) + ": argument 'id' is missing");
    }
    const auto id = args.opt_integer("id", INT64_MIN, INT64_MAX);
    return *id;
}

json info_command(const json& arguments, const CommandEnv& env, const Dispatcher& dispatcher) {
    Args(arguments, kInfo).allow_only({});
    json out;
    out["version"] = kAgentVersion;
    utsname u{};
    if (::uname(&u) == 0) {
        out["kernel-release"] = u.release;
        out["kernel-version"] = u.version;
        out["machine"] = u.machine;
        out["hostname"] = u.nodename;
    }
    const auto notes = read_small_file(env.sys_root / "kernel" / "notes", 65536);
    const auto build_id = notes ? parse_build_id(*notes) : std::nullopt;
    out["build-id"] = build_id ? json(*build_id) : json(nullptr);
    if (const auto up = read_small_file(env.proc_root / "uptime", 256)) {
        try {
            out["uptime"] = std::stod(*up);
        } catch (const std::exception&) {
            out["uptime"] = nullptr;
        }
    }
    json mshare{{"mounted", false}};
    struct statfs fs {};
    const auto mshare_dir = env.sys_root / "fs" / "mshare";
    if (::statfs(mshare_dir.c_str(), &fs) == 0 &&
        static_cast<unsigned long>(fs.f_type) == kMshareMagic) {
        mshare["mounted"] = true;
        if (const auto align = read_small_file(mshare_dir / "mshare_info", 64)) {
            try {
                mshare["alignment"] = std::stoull(*align);
            } catch (const std::exception&) {
            }
        }
    }
    out["msharefs"] = mshare;
    if (const auto pages = read_small_file(env.proc_root / "sys" / "vm" / "nr_hugepages", 64)) {
        try {
            out["nr-hugepages"] = std::stoull(*pages);
        } catch (const std::exception&) {
        }
    }
    out["commands"] = dispatcher.commands();
    return out;
}

json exec_command(const json& arguments, ExecManager& exec) {
    const Args args(arguments, kExec);
    args.allow_only(
        {"path", "arg", "env", "input-data", "capture-output", "timeout", "output-limit"});
    ExecSpec spec;
    spec.path = args.string("path");
    spec.args = args.opt_strings("arg");
    spec.env = args.opt_strings("env");
    if (const auto input = args.opt_string("input-data")) {
        auto decoded = base64_decode(*input);
        if (!decoded) {
            throw CommandError("guest-exec: argument 'input-data' is not base64");
        }
        spec.input = std::move(*decoded);
    }
    spec.capture = args.opt_boolean("capture-output").value_or(true);
    spec.timeout = args.opt_number("timeout", 0.001, kMaxExecTimeout).value_or(kDefaultExecTimeout);
    spec.output_limit = static_cast<std::size_t>(
        args.opt_integer("output-limit", 0, static_cast<std::int64_t>(kMaxOutputLimit))
            .value_or(static_cast<std::int64_t>(kDefaultOutputLimit)));
    return json{{"pid", exec.start(spec)}};
}

json exec_status_command(const json& arguments, ExecManager& exec) {
    const Args args(arguments, kExecStatus);
    args.allow_only({"pid"});
    if (!args.has("pid")) {
        throw CommandError("guest-exec-status: argument 'pid' is missing");
    }
    const auto pid = args.opt_integer("pid", 1, INT32_MAX);
    return exec.status(static_cast<pid_t>(*pid));
}

json file_read_command(const json& arguments) {
    const Args args(arguments, kFileRead);
    args.allow_only({"path", "offset", "count"});
    const auto path = args.string("path");
    const auto offset = args.opt_integer("offset", 0, INT64_MAX).value_or(0);
    const auto count = static_cast<std::size_t>(
        args.opt_integer("count", 0, static_cast<std::int64_t>(kMaxFileReadBytes))
            .value_or(static_cast<std::int64_t>(kDefaultFileReadBytes)));
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd) {
        throw CommandError(cat("guest-file-read: ", quote(path), ": ", errno_text(errno)));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw CommandError(cat("guest-file-read: ", quote(path), ": not a regular file"));
    }
    std::string data;
    std::array<char, 65536> buf{};
    auto pos = static_cast<off_t>(offset);
    bool eof = false;
    while (data.size() < count) {
        const ssize_t n =
            ::pread(fd.get(), buf.data(), std::min(buf.size(), count - data.size()), pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw CommandError(cat("guest-file-read: ", quote(path), ": ", errno_text(errno)));
        }
        if (n == 0) {
            eof = true;
            break;
        }
        data.append(buf.data(), static_cast<std::size_t>(n));
        pos += n;
    }
    if (!eof) {
        // Exactly `count` bytes read: at the end if nothing follows.
        char probe = 0;
        ssize_t n = 0;
        do {
            n = ::pread(fd.get(), &probe, 1, pos);
        } while (n < 0 && errno == EINTR);
        eof = n == 0;
    }
    return json{{"count", data.size()}, {"buf-b64", base64_encode(data)}, {"eof", eof}};
}

json shutdown_command(const json& arguments, CallContext& ctx, const CommandEnv& env) {
    const Args args(arguments, kShutdown);
    args.allow_only({"mode"});
    const auto mode = args.opt_string("mode").value_or("powerdown");
    if (mode != "powerdown" && mode != "reboot" && mode != "halt") {
        throw CommandError(
            "guest-shutdown: argument 'mode' must be 'powerdown', 'reboot' or 'halt'");
    }
    if (!env.shutdown) {
        throw CommandError("guest-shutdown: not available in this agent");
    }
    auto shutdown = env.shutdown;
    ctx.after_reply = [shutdown, mode] { shutdown(mode); };
    return json::object();
}

}  // namespace

void add_commands(Dispatcher& dispatcher, ExecManager& exec, const CommandEnv& env) {
    dispatcher.add(kSync, [](const json& a, CallContext&) { return sync_command(a, kSync); });
    dispatcher.add(kSyncDelimited, [](const json& a, CallContext& ctx) {
        auto id = sync_command(a, kSyncDelimited);
        ctx.delimited = true;
        return id;
    });
    dispatcher.add(kPing, [](const json& a, CallContext&) {
        Args(a, kPing).allow_only({});
        return json::object();
    });
    dispatcher.add(kInfo, [env, &dispatcher](const json& a, CallContext&) {
        return info_command(a, env, dispatcher);
    });
    dispatcher.add(kExec, [&exec](const json& a, CallContext&) { return exec_command(a, exec); });
    dispatcher.add(kExecStatus,
                   [&exec](const json& a, CallContext&) { return exec_status_command(a, exec); });
    dispatcher.add(kMeminfo, [env](const json& a, CallContext&) {
        Args(a, kMeminfo).allow_only({});
        const auto text = read_small_file(env.proc_root / "meminfo", 65536);
        if (!text) {
            throw CommandError(cat("guest-meminfo: cannot read ",
                                   quote((env.proc_root / "meminfo").string()), ": ",
                                   errno_text(errno)));
        }
        return parse_meminfo(*text);
    });
    dispatcher.add(kProcesses, [env](const json& a, CallContext&) {
        Args(a, kProcesses).allow_only({});
        return json{{"processes", list_processes(env.proc_root)}};
    });
    dispatcher.add(kFileRead, [](const json& a, CallContext&) { return file_read_command(a); });
    dispatcher.add(kShutdown, [env](const json& a, CallContext& ctx) {
        return shutdown_command(a, ctx, env);
    });
}

}  // namespace mvmm::agent
