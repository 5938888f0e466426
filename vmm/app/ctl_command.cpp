#include "ctl_command.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <thread>

#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/control/text_report.hpp>
#include <mvmm/protocol/error_class.hpp>

namespace mvmm::app {

namespace {

using control::QmpClient;
using control::render_text;
using nlohmann::json;

std::chrono::milliseconds to_ms(double seconds) {
    return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000.0));
}

// "key=value" arguments, qmp-shell style: a value that parses as JSON is
// taken as JSON (numbers, true, [..]), anything else as a string.
json parse_key_values(const std::vector<std::string>& items) {
    if (items.size() == 1 && !items[0].empty() && items[0][0] == '{') {
        json args = json::parse(items[0], nullptr, false);
        if (args.is_discarded() || !args.is_object()) {
            throw Error(cat("arguments ", quote(items[0]), ": not a JSON object"));
        }
        return args;
    }
    json args = json::object();
    for (const auto& item : items) {
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq == 0) {
            throw Error(cat("argument ", quote(item), ": expected KEY=VALUE"));
        }
        const std::string key = item.substr(0, eq);
        const std::string text = item.substr(eq + 1);
        json value = json::parse(text, nullptr, false);
        args[key] = value.is_discarded() ? json(text) : value;
    }
    return args;
}

std::string local_time_text() {
    const std::time_t now = std::time(nullptr);
    std::tm tm{};
    localtime_r(&now, &tm);
    char text[32];
    std::strftime(text, sizeof(text), "%H:%M:%S", &tm);
    return text;
}

std::string event_time_text(const json& event) {
    const auto ts = event.value("timestamp", json::object());
    const std::time_t seconds = ts.value("seconds", std::int64_t{0});
    std::tm tm{};
    localtime_r(&seconds, &tm);
    char text[32];
    std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &tm);
    char micro[16];
    std::snprintf(micro, sizeof(micro), ".%06lld",
                  static_cast<long long>(ts.value("microseconds", std::int64_t{0})));
    return std::string(text) + micro;
}

}  // namespace

struct CtlCommand::Impl {
    CLI::App* ctl = nullptr;
    std::string socket;
    bool json_output = false;
    double timeout = 30;

    CLI::App* status = nullptr;
    CLI::App* stop = nullptr;
    CLI::App* cont = nullptr;
    CLI::App* quit = nullptr;
    CLI::App* version = nullptr;
    CLI::App* commands = nullptr;
    CLI::App* console = nullptr;
    CLI::App* processes = nullptr;
    CLI::App* page_tables = nullptr;
    CLI::App* regions = nullptr;
    CLI::App* accounting = nullptr;
    CLI::App* watch = nullptr;
    CLI::App* kvm_stats = nullptr;
    CLI::App* dirty_log = nullptr;
    CLI::App* exec = nullptr;
    CLI::App* meminfo = nullptr;
    CLI::App* events = nullptr;
    CLI::App* raw = nullptr;

    std::uint64_t console_lines = 50;
    std::uint64_t pid = 0;
    double interval = 2.0;
    std::uint64_t count = 0;
    std::string dirty_action;
    std::vector<std::string> exec_argv;
    std::vector<std::string> exec_env;
    double exec_timeout = 0;
    bool exec_no_capture = false;
    double events_timeout = 0;
    std::string raw_name;
    std::vector<std::string> raw_args;

    explicit Impl(CLI::App& parent) {
        ctl =
            parent.add_subcommand("ctl", "Talk to a running VMM through its control socket (QMP)");
        ctl->add_option("-s,--socket", socket, "The VMM's control socket")
            ->envname("MSHARE_VMM_SOCKET")
            ->required();
        ctl->add_flag("--json", json_output, "Print JSON for scripts instead of tables");
        ctl->add_option("--timeout", timeout, "Seconds to wait for each reply (default 30)")
            ->check(CLI::PositiveNumber);
        ctl->require_subcommand(1);
        ctl->fallthrough();

        status = ctl->add_subcommand("status", "Run state, engine and why it was chosen");
        stop = ctl->add_subcommand("stop", "Pause the vCPUs");
        cont = ctl->add_subcommand("cont", "Resume the vCPUs");
        quit = ctl->add_subcommand("quit", "End the VMM");
        version = ctl->add_subcommand("version", "The VMM's version");
        commands = ctl->add_subcommand("commands", "The commands the socket answers");
        console = ctl->add_subcommand("console", "The last lines of the guest console");
        console->add_option("-n,--lines", console_lines, "How many lines (default 50)")
            ->check(CLI::Range(1, 10000));
        processes = ctl->add_subcommand("processes", "Guest processes, from guest memory");
        page_tables =
            ctl->add_subcommand("page-tables", "One process's page tables: own and shared");
        page_tables->add_option("pid", pid, "Guest process id")->required();
        regions = ctl->add_subcommand(
            "regions", "mshare regions and shared PUD tables, with the share-count check");
        accounting = ctl->add_subcommand("accounting", "The full memory accounting report");
        watch = ctl->add_subcommand("watch", "Refresh the accounting report until interrupted");
        watch->add_option("-i,--interval", interval, "Seconds between refreshes (default 2)")
            ->check(CLI::PositiveNumber);
        watch->add_option("-c,--count", count, "Stop after this many refreshes (default: never)");
        kvm_stats = ctl->add_subcommand("kvm-stats", "KVM's VM and vCPU statistics");
        dirty_log = ctl->add_subcommand("dirty-log",
                                        "KVM dirty log: start an interval, or "
                                        "collect the pages written since");
        dirty_log->add_option("action", dirty_action, "mark or collect")
            ->required()
            ->check(CLI::IsMember({"mark", "collect"}));
        exec = ctl->add_subcommand(
            "exec", "Run a program in the guest through the agent; exits with its status");
        exec->add_option("--env", exec_env, "NAME=VALUE for the program's environment");
        exec->add_option("--time-limit", exec_timeout, "Seconds before the agent kills it");
        exec->add_flag("--no-capture", exec_no_capture, "Do not collect its output");
        exec->add_option("argv", exec_argv, "Program path and arguments (after --)")->required();
        meminfo = ctl->add_subcommand("meminfo", "The guest's /proc/meminfo (bytes)");
        events = ctl->add_subcommand("events", "Print events as they arrive");
        events->add_option("-c,--count", count, "Stop after this many events (default: never)");
        events->add_option("--wait", events_timeout,
                           "Stop after this many seconds without an event (default: never)");
        raw = ctl->add_subcommand("raw", "Any command by its QMP name; prints the JSON reply");
        raw->add_option("command", raw_name, "QMP command name")->required();
        raw->add_option("args", raw_args, "KEY=VALUE ... or one JSON object");
    }

    void print(const json& value) const {
        if (json_output) {
            std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
        } else {
            std::cout << render_text(value);
        }
    }

    int run() {
        QmpClient client(socket, QmpClient::Options{to_ms(timeout), true});
        if (*status) {
            return run_status(client);
        }
        if (*stop || *cont || *quit) {
            const char* name = *stop ? "stop" : *cont ? "cont" : "quit";
            print(client.execute(name));
            return 0;
        }
        if (*version) {
            const auto value = client.execute("query-version");
            if (json_output) {
                print(value);
            } else {
                std::cout << value.value("package", "") << " (QMP version "
                          << value["qemu"].value("major", 0) << "."
                          << value["qemu"].value("minor", 0) << "."
                          << value["qemu"].value("micro", 0) << ")\n";
            }
            return 0;
        }
        if (*commands) {
            const auto value = client.execute("query-commands");
            if (json_output) {
                print(value);
            } else {
                for (const auto& entry : value) {
                    std::cout << entry.value("name", "") << "\n";
                }
            }
            return 0;
        }
        if (*console) {
            const auto value = client.execute("mshare-query-console", {{"lines", console_lines}});
            if (json_output) {
                print(value);
            } else {
                for (const auto& line : value.value("lines", json::array())) {
                    std::cout << line.get<std::string>() << "\n";
                }
            }
            return 0;
        }
        if (*processes) {
            print(client.execute("mshare-query-processes"));
            return 0;
        }
        if (*page_tables) {
            print(client.execute("mshare-query-page-tables", {{"pid", pid}}));
            return 0;
        }
        if (*regions) {
            print(client.execute("mshare-query-regions"));
            return 0;
        }
        if (*accounting) {
            print(client.execute("mshare-query-accounting"));
            return 0;
        }
        if (*watch) {
            return run_watch(client);
        }
        if (*kvm_stats) {
            return run_kvm_stats(client);
        }
        if (*dirty_log) {
            if (dirty_action == "mark") {
                print(client.execute("mshare-dirty-log-mark"));
            } else {
                auto value = client.execute("mshare-dirty-log-collect");
                if (!json_output && value.contains("pfns") && value["pfns"].size() > 16) {
                    json shown = json::array();
                    for (std::size_t i = 0; i < 16; ++i) {
                        shown.push_back(value["pfns"][i]);
                    }
                    shown.push_back("...");
                    value["pfns"] = shown;
                }
                print(value);
            }
            return 0;
        }
        if (*exec) {
            return run_exec(client);
        }
        if (*meminfo) {
            const auto value = client.execute("mshare-query-guest-meminfo");
            if (json_output) {
                print(value);
            } else {
                std::size_t width = 0;
                for (const auto& [key, v] : value.items()) {
                    width = std::max(width, key.size());
                }
                for (const auto& [key, v] : value.items()) {
                    std::cout << key << std::string(width - key.size() + 2, ' ')
                              << control::render_cell("bytes", v) << "\n";
                }
            }
            return 0;
        }
        if (*events) {
            return run_events(client);
        }
        if (*raw) {
            const auto value = client.execute(raw_name, parse_key_values(raw_args));
            std::cout << value.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
            return 0;
        }
        throw Error("no ctl command given");
    }

    int run_status(QmpClient& client) const {
        const auto state = client.execute("query-status");
        const auto engine = client.execute("mshare-query-engine");
        json value = {{"status", state.value("status", "")},
                      {"running", state.value("running", false)}};
        for (const auto& [key, v] : engine.items()) {
            value[key] = v;
        }
        if (json_output) {
            print(value);
            return 0;
        }
        std::cout << "status  " << value["status"].get<std::string>() << "\n"
                  << "engine  " << engine.value("engine", "?") << "\n"
                  << "reason  " << engine.value("reason", "?") << "\n";
        if (engine.contains("vcpus")) {
            std::cout << "vcpus   " << engine["vcpus"].dump() << "\n";
        }
        return 0;
    }

    int run_watch(QmpClient& client) const {
        const bool tty = ::isatty(STDOUT_FILENO) == 1;
        for (std::uint64_t n = 1;; ++n) {
            const auto value = client.execute("mshare-query-accounting");
            if (json_output) {
                std::cout << value.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
            } else {
                if (tty) {
                    std::cout << "\x1b[H\x1b[2J";
                }
                std::cout << "mshare-vmm accounting at " << local_time_text() << " (every "
                          << interval << " s; Ctrl-C to stop)\n\n"
                          << render_text(value) << "\n";
            }
            std::cout.flush();
            if (count != 0 && n >= count) {
                return 0;
            }
            std::this_thread::sleep_for(to_ms(interval));
        }
    }

    int run_kvm_stats(QmpClient& client) const {
        const auto value = client.execute("mshare-query-kvm-stats");
        if (json_output) {
            print(value);
            return 0;
        }
        json rest = value;
        rest.erase("vcpus");
        std::cout << render_text(rest);
        for (const auto& vcpu : value.value("vcpus", json::array())) {
            std::cout << "\nvcpu " << vcpu.value("index", 0) << ":\n"
                      << render_text(vcpu.value("stats", json::array()), "  ");
        }
        return 0;
    }

    int run_exec(QmpClient& client) const {
        json args = {{"path", exec_argv.front()},
                     {"args", std::vector<std::string>(exec_argv.begin() + 1, exec_argv.end())}};
        if (!exec_env.empty()) {
            args["env"] = exec_env;
        }
        if (exec_timeout > 0) {
            args["timeout"] = exec_timeout;
        }
        if (exec_no_capture) {
            args["capture-output"] = false;
        }
        const auto started = client.execute("mshare-guest-exec", args);
        const auto& id = started.at("exec-id");
        auto delay = std::chrono::milliseconds(20);
        json result;
        while (true) {
            result = client.execute("mshare-guest-exec-status", {{"exec-id", id}});
            if (result.value("exited", false)) {
                break;
            }
            std::this_thread::sleep_for(delay);
            delay = std::min(delay * 2, std::chrono::milliseconds(500));
        }
        int code = 0;
        if (result.contains("signal") && result["signal"].is_number_integer()) {
            code = 128 + result["signal"].get<int>();
        } else {
            code = result.value("exit-code", 0);
        }
        if (json_output) {
            print(result);
        } else {
            std::cout << result.value("stdout", "");
            std::cerr << result.value("stderr", "");
            if (result.contains("signal")) {
                std::cerr << "mshare-vmm ctl: " << exec_argv.front() << " killed by signal "
                          << result["signal"].dump() << "\n";
            }
        }
        return code & 0xff;
    }

    int run_events(QmpClient& client) const {
        const auto wait = events_timeout > 0 ? to_ms(events_timeout) : std::chrono::hours(24);
        for (std::uint64_t n = 0; count == 0 || n < count; ++n) {
            auto event = client.next_event(wait);
            if (!event) {
                if (events_timeout > 0) {
                    return 0;
                }
                --n;
                continue;
            }
            if (json_output) {
                std::cout << event->dump(-1, ' ', false, json::error_handler_t::replace)
                          << std::endl;
            } else {
                std::cout << event_time_text(*event) << "  " << event->value("event", "?");
                if (event->contains("data")) {
                    std::cout << "  "
                              << (*event)["data"].dump(-1, ' ', false,
                                                       json::error_handler_t::replace);
                }
                std::cout << std::endl;
            }
        }
        return 0;
    }
};

CtlCommand::CtlCommand(CLI::App& parent) : impl_(std::make_unique<Impl>(parent)) {}

CtlCommand::~CtlCommand() = default;

bool CtlCommand::selected() const {
    return impl_->ctl->parsed();
}

int CtlCommand::run() {
    try {
        return impl_->run();
    } catch (const protocol::CommandError& e) {
        if (impl_->json_output) {
            std::cout << json{{"error",
                               {{"class", protocol::to_string(e.error_class())},
                                {"desc", e.what()}}}}
                             .dump(2)
                      << "\n";
        }
        std::fprintf(stderr, "mshare-vmm ctl: %s: %s\n",
                     std::string(protocol::to_string(e.error_class())).c_str(), e.what());
        return 1;
    } catch (const Error& e) {
        std::fprintf(stderr, "mshare-vmm ctl: %s\n", e.what());
        return 1;
    }
}

}  // namespace mvmm::app
