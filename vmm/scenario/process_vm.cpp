#include <deque>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/scenario/process_vm.hpp>
#include <mvmm/scenario/report.hpp>
#include <mvmm/scenario/runner.hpp>

extern char** environ;  // NOLINT(readability-redundant-declaration): posix_spawn needs it

namespace mvmm::scenario {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

milliseconds left(Deadline deadline) {
    const auto d = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    return std::max(d, milliseconds(0));
}

std::string read_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        return {};
    }
    std::stringstream buffer;
    buffer << in.rdbuf();
    return buffer.str();
}

std::string log_tail(const std::filesystem::path& file) {
    std::string out;
    for (const auto& line : tail_lines(read_file(file), 20)) {
        out += "\n  " + line;
    }
    return out.empty() ? " (it wrote nothing)" : cat(" (", file.string(), "):", out);
}

std::string describe_status(int status) {
    if (WIFEXITED(status)) {
        return cat("exited with status ", WEXITSTATUS(status));
    }
    if (WIFSIGNALED(status)) {
        return cat("killed by signal ", WTERMSIG(status));
    }
    return "ended";
}

}  // namespace

// The VMM child process: started with posix_spawn in its own process group.
class ProcessVmLauncher::Child {
  public:
    Child(const std::filesystem::path& binary, const std::vector<std::string>& args,
          const std::filesystem::path& log) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                         0644);
        posix_spawn_file_actions_adddup2(&actions, 1, 2);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
        posix_spawnattr_setpgroup(&attr, 0);
        std::vector<std::string> words = {binary.string()};
        words.insert(words.end(), args.begin(), args.end());
        std::vector<char*> argv;
        argv.reserve(words.size() + 1);
        for (auto& w : words) {
            argv.push_back(w.data());
        }
        argv.push_back(nullptr);
        const int err = ::posix_spawn(&pid_, binary.c_str(), &actions, &attr, argv.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        if (err != 0) {
            throw_errno(cat("cannot start ", quote(binary.string())), err);
        }
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        signal(SIGKILL);
        (void)wait_until(Clock::now() + std::chrono::seconds(30));
    }

    // Sends `sig` to the VMM's process group unless it has been reaped.
    void signal(int sig) noexcept {
        const std::lock_guard lock(mutex_);
        if (!status_) {
            ::kill(-pid_, sig);
        }
    }

    // The exit status, once the child has ended; waits until the deadline.
    std::optional<int> wait_until(Deadline deadline) {
        while (true) {
            {
                const std::lock_guard lock(mutex_);
                if (status_) {
                    return status_;
                }
                int status = 0;
                const auto r = ::waitpid(pid_, &status, WNOHANG);
                if (r == pid_) {
                    status_ = status;
                    return status_;
                }
                if (r < 0 && errno != EINTR) {
                    status_ = 0;
                    return status_;
                }
            }
            if (Clock::now() >= deadline) {
                return std::nullopt;
            }
            std::this_thread::sleep_for(milliseconds(20));
        }
    }

    [[nodiscard]] pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    std::mutex mutex_;
    std::optional<int> status_;
};

namespace {

using Child = ProcessVmLauncher::Child;

class ProcessVm : public VmConnection {
  public:
    ProcessVm(std::shared_ptr<Child> child, std::unique_ptr<control::QmpClient> client,
              std::filesystem::path console_log, std::filesystem::path vmm_log)
        : child_(std::move(child)),
          client_(std::move(client)),
          console_log_(std::move(console_log)),
          vmm_log_(std::move(vmm_log)) {}

    json execute(std::string_view command, const json& arguments, Deadline deadline) override {
        if (killed_) {
            throw Error("the VM was killed");
        }
        const auto id = cat("scenario-", next_id_++);
        json message = {{"execute", command}, {"id", id}};
        if (!arguments.empty()) {
            message["arguments"] = arguments;
        }
        client_->send_raw(message.dump() + "\r\n");
        while (true) {
            auto reply = read(deadline);
            if (!reply) {
                throw TimedOut(cat("no reply to ", quote(command), " in time"));
            }
            if (reply->contains("event")) {
                queue_event(*reply);
                continue;
            }
            // Late replies to commands that timed out have other ids.
            if (reply->contains("id") && (*reply)["id"] != id) {
                continue;
            }
            if (const auto it = reply->find("error"); it != reply->end()) {
                throw CommandFailed(it->value("class", "GenericError"),
                                    it->value("desc", "(no description)"));
            }
            if (const auto it = reply->find("return"); it != reply->end()) {
                return *it;
            }
        }
    }

    std::optional<VmEvent> next_event(Deadline deadline) override {
        while (events_.empty()) {
            auto message = read(deadline);
            if (!message) {
                return std::nullopt;
            }
            if (message->contains("event")) {
                queue_event(*message);
            }
        }
        auto e = std::move(events_.front());
        events_.pop_front();
        return e;
    }

    std::string console_text() override { return read_file(console_log_); }
    [[nodiscard]] std::filesystem::path console_log() const override { return console_log_; }

    void kill() noexcept override {
        killed_ = true;
        child_->signal(SIGKILL);
    }

    std::string shutdown(Deadline deadline) override {
        if (!killed_) {
            try {
                (void)execute("quit", json::object(),
                              std::min(deadline, Clock::now() + std::chrono::seconds(5)));
            } catch (const std::exception& e) {
                log::debug("scenario", "quit: ", e.what());
            }
        }
        auto status = child_->wait_until(deadline);
        std::string how;
        if (!status) {
            child_->signal(SIGTERM);
            status = child_->wait_until(Clock::now() + std::chrono::seconds(3));
            how = " after SIGTERM";
        }
        if (!status) {
            child_->signal(SIGKILL);
            status = child_->wait_until(Clock::now() + std::chrono::seconds(30));
            how = " after SIGKILL";
        }
        if (!status) {
            return cat("did not end (pid ", child_->pid(), ")");
        }
        return cat(killed_ ? "killed: " : "", describe_status(*status), how);
    }

  private:
    std::optional<json> read(Deadline deadline) {
        try {
            return client_->read_message(left(deadline));
        } catch (const Error& e) {
            if (killed_) {
                throw Error("the VM was killed");
            }
            const auto status = child_->wait_until(Clock::now() + milliseconds(500));
            throw Error(cat(e.what(), "; the VMM ",
                            status ? describe_status(*status) : std::string("is still running"),
                            log_tail(vmm_log_)));
        }
    }

    void queue_event(const json& message) {
        VmEvent e;
        e.name = message.value("event", "");
        e.data = message.value("data", json::object());
        if (const auto ts = message.find("timestamp"); ts != message.end() && ts->is_object()) {
            e.timestamp = static_cast<double>(ts->value("seconds", std::int64_t{0})) +
                          static_cast<double>(ts->value("microseconds", std::int64_t{0})) / 1e6;
        }
        events_.push_back(std::move(e));
    }

    std::shared_ptr<Child> child_;
    std::unique_ptr<control::QmpClient> client_;
    std::filesystem::path console_log_;
    std::filesystem::path vmm_log_;
    std::atomic<bool> killed_{false};
    std::deque<VmEvent> events_;
    std::uint64_t next_id_ = 1;
};

}  // namespace

json child_config(const VmConfig& config, const std::filesystem::path& control_socket,
                  const std::filesystem::path& console_log) {
    auto j = to_json(config);
    j["control_socket"] = control_socket.string();
    j["console_log"] = console_log.string();
    j["console_stdout"] = false;
    if (config.agent_socket.empty()) {
        j.erase("agent_socket");
    }
    return j;
}

ProcessVmLauncher::ProcessVmLauncher(ProcessVmOptions options)
    : options_(std::move(options)), runtime_("scenario") {}

ProcessVmLauncher::~ProcessVmLauncher() = default;

void ProcessVmLauncher::kill_all() noexcept {
    const std::lock_guard lock(mutex_);
    for (const auto& weak : children_) {
        if (const auto child = weak.lock()) {
            child->signal(SIGKILL);
        }
    }
}

std::unique_ptr<VmConnection> ProcessVmLauncher::launch(const VmConfig& config,
                                                        const std::filesystem::path& work_dir,
                                                        Deadline deadline) {
    const auto abs_dir = std::filesystem::absolute(work_dir);
    const auto socket = runtime_.path() / cat(next_++, ".sock");
    const auto console_log = abs_dir / "console.log";
    const auto vm_json = abs_dir / "vm.json";
    const auto vmm_log = abs_dir / "vmm.log";
    write_file_atomically(vm_json, child_config(config, socket, console_log).dump(2) + "\n");

    std::vector<std::string> args = {"run", "--config", vm_json.string()};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    auto child = std::make_shared<Child>(options_.vmm_binary, args, vmm_log);
    {
        const std::lock_guard lock(mutex_);
        std::erase_if(children_, [](const auto& c) { return c.expired(); });
        children_.push_back(child);
    }

    std::string last_error = "its control socket did not appear";
    while (true) {
        if (const auto status = child->wait_until(Clock::now())) {
            throw Error(cat("the VMM ", describe_status(*status),
                            " before its control socket answered", log_tail(vmm_log)));
        }
        std::error_code ec;
        if (std::filesystem::exists(socket, ec)) {
            try {
                control::QmpClient::Options o;
                o.timeout = std::min(left(deadline), milliseconds(10000));
                auto client = std::make_unique<control::QmpClient>(socket, o);
                return std::make_unique<ProcessVm>(std::move(child), std::move(client), console_log,
                                                   vmm_log);
            } catch (const Error& e) {
                last_error = e.what();
            }
        }
        if (Clock::now() >= deadline) {
            throw TimedOut(cat("the VMM did not answer on its control socket in time (", last_error,
                               ")", log_tail(vmm_log)));
        }
        std::this_thread::sleep_for(milliseconds(50));
    }
}

}  // namespace mvmm::scenario
