// The QEMU engine: runs the guest in qemu-system-x86_64 and keeps for the VMM
// everything it observes. Guest RAM is a shared file in the runtime folder,
// mapped read-only here; the console, the boot marker and QMP reach us over
// socket pairs QEMU inherits; the agent channel is a UNIX socket QEMU serves.
//
// Threads: the I/O thread starts QEMU (so PR_SET_PDEATHSIG ties QEMU to it),
// reads the console, the marker and QEMU's stderr, and notices QEMU's end; the
// QMP client's reader thread receives QMP events; the event thread calls the
// event handler, one event at a time, so the handler may call stop(), pause(),
// resume() and special_registers() (but not wait()).
#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/qemu/child_process.hpp>
#include <mvmm/qemu/command_line.hpp>
#include <mvmm/qemu/monitor_parse.hpp>
#include <mvmm/qemu/qmp_client.hpp>
#include <mvmm/qemu/ram_folder.hpp>

namespace mvmm {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr auto kHandshakeTimeout = 60s;  // QEMU's start can be slow on a loaded host
constexpr auto kQuitTimeout = 5s;
constexpr auto kStopGrace = 10s;  // then SIGKILL
constexpr auto kDrainTimeout = 2s;
constexpr std::size_t kStderrTailLines = 20;
constexpr std::string_view kPanicLine = "Kernel panic - not syncing";

// Descriptors QEMU inherits must not land on 0, 1 or 2.
UniqueFd above_stdio(UniqueFd fd, std::string_view what) {
    if (fd.get() >= 3) {
        return fd;
    }
    UniqueFd moved(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
    if (!moved) {
        throw_errno(what);
    }
    return moved;
}

struct SocketPair {
    UniqueFd ours;
    UniqueFd theirs;
};

SocketPair socket_pair(std::string_view what) {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
        throw_errno(cat("QEMU engine: socketpair for ", what));
    }
    SocketPair pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
    pair.theirs = above_stdio(std::move(pair.theirs), what);
    return pair;
}

void check_readable(const std::filesystem::path& path, std::string_view what) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno(cat(what, " ", quote(path.string())));
    }
}

// Splits a byte stream into lines and calls `on_line` with each complete one.
class LineSplitter {
  public:
    template <typename F>
    void feed(std::string_view bytes, F&& on_line) {
        for (const char c : bytes) {
            if (c == '\n') {
                if (!partial_.empty() && partial_.back() == '\r') {
                    partial_.pop_back();
                }
                on_line(std::string_view(partial_));
                partial_.clear();
            } else if (partial_.size() < 4096) {
                partial_ += c;
            }
        }
    }
    template <typename F>
    void flush(F&& on_line) {
        if (!partial_.empty()) {
            on_line(std::string_view(partial_));
            partial_.clear();
        }
    }

  private:
    std::string partial_;
};

class QemuEngine final : public Engine {
  public:
    explicit QemuEngine(const EngineSetup& setup)
        : config_(setup.config),
          console_(setup.console),
          runtime_dir_(setup.runtime_dir),
          ram_folder_(runtime_dir_) {
        ram_path_ = ram_folder_.path() / "ram";
        agent_socket_ =
            config_.agent_socket.empty() ? runtime_dir_ / "agent.sock" : config_.agent_socket;
    }

    QemuEngine(const QemuEngine&) = delete;
    QemuEngine& operator=(const QemuEngine&) = delete;

    ~QemuEngine() override {
        stop();
        if (io_thread_.joinable()) {
            io_thread_.join();
        }
        {
            const std::lock_guard lock(queue_mutex_);
            queue_closing_ = true;
        }
        queue_cv_.notify_all();
        if (event_thread_.joinable()) {
            event_thread_.join();
        }
        qmp_.reset();
    }

    [[nodiscard]] std::string_view name() const override { return "qemu"; }
    [[nodiscard]] std::string selection_reason() const override {
        return "the QEMU engine was asked for directly";
    }
    void set_event_handler(EventHandler handler) override {
        const std::lock_guard lock(queue_mutex_);
        handler_ = std::move(handler);
    }

    void start() override;
    void pause() override;
    void resume() override;
    void stop() override;
    RunState wait() override;

    [[nodiscard]] RunState state() const override {
        const std::lock_guard lock(mutex_);
        return state_;
    }
    [[nodiscard]] const PhysView& memory() const override {
        const PhysView* view = view_.load(std::memory_order_acquire);
        return view != nullptr ? *view : empty_view_;
    }
    [[nodiscard]] unsigned vcpu_count() const override { return config_.vcpus; }
    [[nodiscard]] SpecialRegisters special_registers(unsigned vcpu) override;

    [[nodiscard]] std::string kvm_absent_reason() const override {
        return cat("the QEMU engine runs the guest in ", config_.qemu.binary, " (accel ",
                   config_.qemu.accel, "); KVM statistics and dirty logging need the KVM engine");
    }

  private:
    enum class QmpPhase { none, connecting, connected, closed, failed };

    void launch_qemu();
    void connect_qemu();
    void io_main(const ChildSpec& spec, std::promise<void>& spawned);
    void io_loop();
    void after_exit();
    void finish(int wait_status);
    [[noreturn]] void abort_start(const std::string& reason);

    void on_qmp_event(const json& event);
    void on_console(std::string_view bytes);
    void on_marker(std::string_view bytes);
    void on_stderr(std::string_view bytes);
    void note_panic(std::string_view reason, json data);
    // Queues an event for the event thread.
    void emit(EngineEvent event);
    void event_loop();
    void wake() const;

    // The QMP client once connected; throws naming `what` otherwise.
    QmpClient& qmp_for(std::string_view what);
    [[nodiscard]] std::string qemu_label() const;
    [[nodiscard]] std::string stderr_tail_text() const;

    VmConfig config_;
    ConsoleSink& console_;
    std::filesystem::path runtime_dir_;
    RamFolder ram_folder_;  // the runtime folder, or a private one on /dev/shm
    std::filesystem::path ram_path_;
    std::filesystem::path agent_socket_;
    std::string binary_;

    // Set up by start(), read by the I/O thread.
    UniqueFd console_fd_;
    UniqueFd marker_fd_;
    UniqueFd stderr_fd_;
    UniqueFd wake_fd_;
    UniqueFd qmp_socket_;  // until the QMP client takes it

    std::unique_ptr<ChildProcess> child_;  // made on the I/O thread, guarded by mutex_
    std::unique_ptr<QmpClient> qmp_;
    std::unique_ptr<MappedPhysMemory> ram_;
    std::atomic<const PhysView*> view_{nullptr};
    PhysView empty_view_;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    RunState state_ = RunState::prelaunch;
    QmpPhase qmp_phase_ = QmpPhase::none;
    bool started_ = false;
    bool ended_ = false;
    bool stop_requested_ = false;
    bool killed_ = false;
    bool start_failed_ = false;
    std::string start_failure_;
    bool shutdown_seen_ = false;
    bool panic_seen_ = false;
    bool boot_seen_ = false;
    Clock::time_point stop_deadline_{};
    std::string exit_text_;
    std::string crash_message_;
    std::deque<std::string> stderr_tail_;

    // Only the I/O thread touches these.
    LineSplitter console_lines_;
    LineSplitter stderr_lines_;

    // Events wait here for the event thread; an empty optional marks the end.
    std::mutex queue_mutex_;
    std::condition_variable queue_cv_;
    std::deque<std::optional<EngineEvent>> queue_;
    bool queue_closing_ = false;
    EventHandler handler_;

    std::jthread event_thread_;
    std::jthread io_thread_;
};

std::string QemuEngine::qemu_label() const {
    const std::lock_guard lock(mutex_);
    return cat(binary_.empty() ? config_.qemu.binary : binary_,
               child_ ? cat(" (pid ", child_->pid(), ")") : std::string());
}

std::string QemuEngine::stderr_tail_text() const {
    const std::lock_guard lock(mutex_);
    if (stderr_tail_.empty()) {
        return "; it wrote nothing to stderr";
    }
    std::string text = "; the end of its stderr:";
    for (const auto& line : stderr_tail_) {
        text += "\n    " + line;
    }
    return text;
}

void QemuEngine::wake() const {
    if (wake_fd_) {
        const std::uint64_t one = 1;
        (void)!::write(wake_fd_.get(), &one, sizeof one);
    }
}

void QemuEngine::emit(EngineEvent event) {
    {
        const std::lock_guard lock(queue_mutex_);
        queue_.emplace_back(std::move(event));
    }
    queue_cv_.notify_all();
}

void QemuEngine::event_loop() {
    for (;;) {
        std::optional<EngineEvent> event;
        EventHandler handler;
        {
            std::unique_lock lock(queue_mutex_);
            queue_cv_.wait(lock, [this] { return !queue_.empty() || queue_closing_; });
            if (queue_.empty()) {
                return;
            }
            event = std::move(queue_.front());
            queue_.pop_front();
            handler = handler_;
        }
        if (!event) {
            // The VM has ended and every event before that was handled.
            {
                const std::lock_guard lock(mutex_);
                ended_ = true;
            }
            cv_.notify_all();
            continue;
        }
        if (handler) {
            try {
                handler(*event);
            } catch (const std::exception& e) {
                log::error("qemu", "event handler failed on ", qmp_event_name(event->kind), ": ",
                           e.what());
            }
        }
    }
}

void QemuEngine::start() {
    {
        const std::lock_guard lock(mutex_);
        if (started_) {
            throw Error("QEMU engine: start() was already called");
        }
        started_ = true;
    }
    try {
        launch_qemu();
    } catch (...) {
        {
            const std::lock_guard lock(mutex_);
            if (!ended_ && !child_) {
                state_ = RunState::internal_error;
                ended_ = true;
            }
        }
        cv_.notify_all();
        throw;
    }
    connect_qemu();
}

void QemuEngine::launch_qemu() {
    check_readable(config_.kernel, "kernel image");
    if (config_.initramfs) {
        check_readable(*config_.initramfs, "initramfs");
    }
    if (agent_socket_.string().size() >= sizeof(sockaddr_un::sun_path)) {
        throw Error(cat("agent socket ", quote(agent_socket_.string()), ": path longer than ",
                        sizeof(sockaddr_un::sun_path) - 1, " bytes"));
    }
    try {
        binary_ = find_program(config_.qemu.binary).string();
    } catch (const Error& e) {
        throw Error(cat("QEMU engine: ", e.what()));
    }
    std::error_code ec;
    std::filesystem::remove(ram_path_, ec);
    std::filesystem::remove(agent_socket_, ec);

    auto qmp_pair = socket_pair("QMP");
    auto console_pair = socket_pair("the console");
    auto marker_pair = socket_pair("the boot marker");
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
        throw_errno("QEMU engine: pipe for QEMU's stderr");
    }
    stderr_fd_ = UniqueFd(pipe_fds[0]);
    UniqueFd stderr_write = above_stdio(UniqueFd(pipe_fds[1]), "QEMU's stderr");
    wake_fd_ = UniqueFd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake_fd_) {
        throw_errno("QEMU engine: eventfd");
    }
    console_fd_ = std::move(console_pair.ours);
    marker_fd_ = std::move(marker_pair.ours);

    const QemuLaunch launch{.binary = binary_,
                            .ram_file = ram_path_,
                            .qmp_fd = qmp_pair.theirs.get(),
                            .console_fd = console_pair.theirs.get(),
                            .marker_fd = marker_pair.theirs.get(),
                            .agent_socket = agent_socket_};
    const ChildSpec spec{
        .argv = qemu_command_line(config_, launch),
        .inherit_fds = {launch.qmp_fd, launch.console_fd, launch.marker_fd},
        .stderr_fd = stderr_write.get(),
    };
    log::info("qemu", "starting ", binary_, ": machine ", config_.qemu.machine, ", accel ",
              config_.qemu.accel, ", ", config_.vcpus, " vCPU(s), ", config_.memory_mib,
              " MiB, RAM file ", quote(ram_path_.string()));
    if (log::level() <= log::Level::debug) {
        std::string line;
        for (const auto& a : spec.argv) {
            line += (line.empty() ? "" : " ") + quote(a);
        }
        log::debug("qemu", "command line: ", line);
    }

    event_thread_ = std::jthread([this] { event_loop(); });
    std::promise<void> spawned;
    auto spawn_result = spawned.get_future();
    io_thread_ = std::jthread([this, &spec, &spawned] { io_main(spec, spawned); });
    try {
        spawn_result.get();
    } catch (const Error& e) {
        io_thread_.join();
        throw Error(cat("QEMU engine: ", e.what()));
    }
    // QEMU holds its ends now; ours must go, so its death shows as end-of-file.
    qmp_pair.theirs.reset();
    console_pair.theirs.reset();
    marker_pair.theirs.reset();
    stderr_write.reset();
    qmp_socket_ = std::move(qmp_pair.ours);
}

void QemuEngine::connect_qemu() {
    {
        const std::lock_guard lock(mutex_);
        qmp_phase_ = QmpPhase::connecting;
    }
    try {
        auto client = std::make_unique<QmpClient>(
            std::move(qmp_socket_), qemu_label(),
            [this](const json& event) { on_qmp_event(event); },
            [this] {
                {
                    const std::lock_guard lock(mutex_);
                    qmp_phase_ = QmpPhase::closed;
                }
                cv_.notify_all();
            },
            kHandshakeTimeout);
        const std::lock_guard lock(mutex_);
        qmp_ = std::move(client);
        qmp_phase_ = QmpPhase::connected;
    } catch (const Error& e) {
        {
            const std::lock_guard lock(mutex_);
            qmp_phase_ = QmpPhase::failed;
        }
        cv_.notify_all();
        abort_start(e.what());
    }
    try {
        const auto mtree = qmp_->human_monitor_command("info mtree -f");
        const auto layout = parse_ram_layout(mtree, kQemuRamBackendId);
        ram_ = std::make_unique<MappedPhysMemory>(ram_path_, layout);
        view_.store(&ram_->view(), std::memory_order_release);
        std::string ranges;
        for (const auto& r : layout.ranges()) {
            ranges += cat(ranges.empty() ? "" : ", ", hex(r.gpa), "-", hex(r.gpa + r.size - 1),
                          " @", hex(r.offset));
        }
        log::debug("qemu", "guest RAM layout from QEMU: ", ranges);
        qmp_->execute("cont");
    } catch (const Error& e) {
        abort_start(e.what());
    }
    const std::lock_guard lock(mutex_);
    if (state_ == RunState::prelaunch) {
        state_ = RunState::running;
    }
}

void QemuEngine::abort_start(const std::string& reason) {
    std::unique_lock lock(mutex_);
    // QEMU that closed its QMP socket is usually on its way out: let it end by
    // itself so the error shows its own words and exit status.
    if (!cv_.wait_for(lock, kDrainTimeout, [this] { return ended_; })) {
        start_failed_ = true;
        start_failure_ = reason;
        stop_requested_ = true;
        killed_ = true;
        if (child_) {
            child_->signal(SIGKILL);
        }
        cv_.wait(lock, [this] { return ended_; });
    }
    throw Error(crash_message_.empty() ? cat("QEMU engine: ", reason) : crash_message_);
}

void QemuEngine::io_main(const ChildSpec& spec, std::promise<void>& spawned) {
    try {
        auto child = std::make_unique<ChildProcess>(spec);
        const std::lock_guard lock(mutex_);
        child_ = std::move(child);
    } catch (...) {
        spawned.set_exception(std::current_exception());
        return;
    }
    spawned.set_value();  // `spec` and `spawned` are gone after this
    io_loop();
    after_exit();
}

void QemuEngine::io_loop() {
    std::array<pollfd, 5> fds{};
    fds[0] = {wake_fd_.get(), POLLIN, 0};
    fds[1] = {console_fd_.get(), POLLIN, 0};
    fds[2] = {marker_fd_.get(), POLLIN, 0};
    fds[3] = {stderr_fd_.get(), POLLIN, 0};
    {
        const std::lock_guard lock(mutex_);
        fds[4] = {child_->exit_fd(), POLLIN, 0};
    }
    char buffer[16384];
    for (;;) {
        int timeout_ms = -1;
        {
            const std::lock_guard lock(mutex_);
            if (stop_requested_ && !killed_) {
                const auto left = stop_deadline_ - Clock::now();
                if (left <= Clock::duration::zero()) {
                    log::warn("qemu", "QEMU (pid ", child_->pid(), ") did not end within ",
                              std::chrono::duration_cast<std::chrono::seconds>(kStopGrace).count(),
                              " s of being asked to; killing it");
                    killed_ = true;
                    child_->signal(SIGKILL);
                } else {
                    timeout_ms = static_cast<int>(
                        std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1);
                }
            }
        }
        const int r = ::poll(fds.data(), fds.size(), timeout_ms);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            log::error("qemu", "poll: ", errno_text(errno));
            break;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            std::uint64_t count = 0;
            (void)!::read(wake_fd_.get(), &count, sizeof count);
        }
        for (std::size_t i = 1; i <= 3; ++i) {
            if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) {
                continue;
            }
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (n <= 0) {
                fds[i].fd = -1;  // QEMU closed its end
                continue;
            }
            const std::string_view bytes(buffer, static_cast<std::size_t>(n));
            if (i == 1) {
                on_console(bytes);
            } else if (i == 2) {
                on_marker(bytes);
            } else {
                on_stderr(bytes);
            }
        }
        if ((fds[4].revents & POLLIN) != 0) {
            break;  // QEMU has ended
        }
    }
    // Whatever QEMU wrote before it ended is still in the sockets and the pipe.
    const auto deadline = Clock::now() + kDrainTimeout;
    for (std::size_t i = 1; i <= 3; ++i) {
        while (fds[i].fd >= 0 && Clock::now() < deadline) {
            pollfd one{fds[i].fd, POLLIN, 0};
            if (::poll(&one, 1, 100) <= 0) {
                continue;
            }
            const ssize_t n = ::read(fds[i].fd, buffer, sizeof buffer);
            if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            const std::string_view bytes(buffer, static_cast<std::size_t>(n));
            if (i == 1) {
                on_console(bytes);
            } else if (i == 2) {
                on_marker(bytes);
            } else {
                on_stderr(bytes);
            }
        }
    }
    stderr_lines_.flush([this](std::string_view line) { on_stderr(cat(line, "\n")); });
}

void QemuEngine::after_exit() {
    int status = 0;
    {
        const std::lock_guard lock(mutex_);
        status = child_->wait();
    }
    // QMP events (SHUTDOWN above all) come on their own thread: let them all
    // arrive before deciding how the VM ended.
    {
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, kDrainTimeout, [this] {
            return qmp_phase_ != QmpPhase::connecting && qmp_phase_ != QmpPhase::connected;
        });
    }
    finish(status);
}

void QemuEngine::finish(int wait_status) {
    std::vector<EngineEvent> events;
    const std::string label = qemu_label();
    const std::string tail = stderr_tail_text();
    RunState final_state = RunState::shutdown;
    {
        const std::lock_guard lock(mutex_);
        exit_text_ = describe_wait_status(wait_status);
        std::vector<std::string> tail_lines(stderr_tail_.begin(), stderr_tail_.end());
        if (start_failed_) {
            final_state = RunState::internal_error;
            crash_message_ =
                cat("QEMU engine: ", start_failure_, "; ", label, " was stopped", tail);
            events.push_back({.kind = EngineEvent::Kind::engine_crash,
                              .reason = "start-failed",
                              .data = {{"message", crash_message_},
                                       {"exit", exit_text_},
                                       {"stderr_tail", tail_lines}}});
        } else if (panic_seen_) {
            final_state = RunState::guest_panicked;
        } else if (shutdown_seen_) {
            final_state = RunState::shutdown;
        } else if (stop_requested_) {
            final_state = RunState::shutdown;
            events.push_back({.kind = EngineEvent::Kind::shutdown,
                              .reason = "host-stop",
                              .data = {{"exit", exit_text_}}});
        } else {
            final_state = RunState::internal_error;
            crash_message_ = cat("QEMU engine: ", label, " ", exit_text_,
                                 state_ == RunState::prelaunch ? " before the guest started"
                                                               : " while the guest was running",
                                 tail);
            events.push_back({.kind = EngineEvent::Kind::engine_crash,
                              .reason = "qemu-exited",
                              .data = {{"message", crash_message_},
                                       {"exit", exit_text_},
                                       {"stderr_tail", tail_lines}}});
        }
    }
    if (final_state == RunState::internal_error) {
        log::error("qemu", crash_message_);
    } else {
        log::info("qemu", label, " ", exit_text_, "; the VM is ", to_string(final_state));
    }
    {
        const std::lock_guard lock(mutex_);
        state_ = final_state;
    }
    for (auto& event : events) {
        emit(std::move(event));
    }
    // ended_ is set by the event thread once it has handled everything before this.
    {
        const std::lock_guard lock(queue_mutex_);
        queue_.emplace_back(std::nullopt);
    }
    queue_cv_.notify_all();
}

void QemuEngine::on_console(std::string_view bytes) {
    console_.write(bytes);
    console_lines_.feed(bytes, [this](std::string_view line) {
        if (line.find(kPanicLine) != std::string_view::npos) {
            note_panic("console-panic-message", {{"line", line}});
        }
    });
}

void QemuEngine::on_marker(std::string_view bytes) {
    for (const char c : bytes) {
        if (c != MVMM_MARKER_BOOT_COMPLETE) {
            log::debug("qemu", "marker port: byte ", hex(static_cast<unsigned char>(c)));
            continue;
        }
        {
            const std::lock_guard lock(mutex_);
            if (boot_seen_) {
                continue;
            }
            boot_seen_ = true;
        }
        const double seconds = process_uptime_seconds();
        log::info("qemu", cat("the guest marked boot complete at ", seconds, " s"));
        emit({.kind = EngineEvent::Kind::boot_complete,
              .reason = "marker",
              .data = {{"seconds", seconds}}});
    }
}

void QemuEngine::on_stderr(std::string_view bytes) {
    stderr_lines_.feed(bytes, [this](std::string_view line) {
        log::info("qemu", "stderr: ", line);
        const std::lock_guard lock(mutex_);
        stderr_tail_.emplace_back(line);
        while (stderr_tail_.size() > kStderrTailLines) {
            stderr_tail_.pop_front();
        }
    });
}

void QemuEngine::note_panic(std::string_view reason, json data) {
    {
        const std::lock_guard lock(mutex_);
        if (panic_seen_) {
            return;
        }
        panic_seen_ = true;
        state_ = RunState::guest_panicked;
    }
    log::warn("qemu", "the guest kernel panicked (", reason, ")");
    emit(
        {.kind = EngineEvent::Kind::panic, .reason = std::string(reason), .data = std::move(data)});
}

void QemuEngine::on_qmp_event(const json& event) {
    const std::string name = event.value("event", std::string());
    json data = event.value("data", json::object());
    const std::string reason = data.is_object() ? data.value("reason", std::string()) : "";
    if (name == "SHUTDOWN") {
        {
            const std::lock_guard lock(mutex_);
            shutdown_seen_ = true;
            if (state_ != RunState::guest_panicked) {
                state_ = RunState::shutdown;
            }
        }
        emit({.kind = EngineEvent::Kind::shutdown, .reason = reason, .data = std::move(data)});
    } else if (name == "RESET") {
        emit({.kind = EngineEvent::Kind::reset, .reason = reason, .data = std::move(data)});
    } else if (name == "STOP") {
        {
            const std::lock_guard lock(mutex_);
            if (state_ == RunState::running) {
                state_ = RunState::paused;
            }
        }
        emit({.kind = EngineEvent::Kind::stop, .reason = "", .data = std::move(data)});
    } else if (name == "RESUME") {
        {
            const std::lock_guard lock(mutex_);
            if (state_ == RunState::paused || state_ == RunState::prelaunch) {
                state_ = RunState::running;
            }
        }
        emit({.kind = EngineEvent::Kind::resume, .reason = "", .data = std::move(data)});
    } else if (name == "GUEST_PANICKED") {
        note_panic("guest-panicked", std::move(data));
    } else {
        log::debug("qemu", "QMP event ", event.dump());
    }
}

QmpClient& QemuEngine::qmp_for(std::string_view what) {
    const std::lock_guard lock(mutex_);
    if (!qmp_ || qmp_phase_ != QmpPhase::connected || ended_) {
        throw Error(cat("QEMU engine: cannot ", what, ": the VM is ", to_string(state_)));
    }
    return *qmp_;
}

void QemuEngine::pause() {
    {
        const std::lock_guard lock(mutex_);
        if (state_ == RunState::paused) {
            return;
        }
        if (state_ != RunState::running) {
            throw Error(cat("QEMU engine: cannot pause: the VM is ", to_string(state_)));
        }
    }
    qmp_for("pause").execute("stop");
    const std::lock_guard lock(mutex_);
    if (state_ == RunState::running) {
        state_ = RunState::paused;
    }
}

void QemuEngine::resume() {
    {
        const std::lock_guard lock(mutex_);
        if (state_ == RunState::running) {
            return;
        }
        if (state_ != RunState::paused) {
            throw Error(cat("QEMU engine: cannot resume: the VM is ", to_string(state_)));
        }
    }
    qmp_for("resume").execute("cont");
    const std::lock_guard lock(mutex_);
    if (state_ == RunState::paused) {
        state_ = RunState::running;
    }
}

void QemuEngine::stop() {
    QmpClient* qmp = nullptr;
    {
        const std::lock_guard lock(mutex_);
        if (!started_) {
            started_ = true;
            ended_ = true;
            state_ = RunState::shutdown;
            cv_.notify_all();
            return;
        }
        if (ended_ || stop_requested_ || !child_) {
            return;
        }
        stop_requested_ = true;
        stop_deadline_ = Clock::now() + kStopGrace;
        if (qmp_phase_ == QmpPhase::connected) {
            qmp = qmp_.get();
        }
    }
    bool asked = false;
    if (qmp != nullptr) {
        try {
            qmp->execute("quit", json::object(), kQuitTimeout);
            asked = true;
        } catch (const Error& e) {
            log::debug("qemu", "quit over QMP did not work (", e.what(), "); sending SIGTERM");
        }
    }
    if (!asked) {
        const std::lock_guard lock(mutex_);
        child_->signal(SIGTERM);
    }
    wake();
}

RunState QemuEngine::wait() {
    std::unique_lock lock(mutex_);
    if (!started_) {
        return state_;
    }
    cv_.wait(lock, [this] { return ended_; });
    return state_;
}

SpecialRegisters QemuEngine::special_registers(unsigned vcpu) {
    if (vcpu >= config_.vcpus) {
        throw Error(
            cat("QEMU engine: vCPU ", vcpu, " does not exist (the VM has ", config_.vcpus, ")"));
    }
    const auto text = qmp_for("read registers").human_monitor_command("info registers -a");
    return parse_special_registers(text, vcpu);
}

}  // namespace

std::unique_ptr<Engine> make_qemu_engine(const EngineSetup& setup) {
    return std::make_unique<QemuEngine>(setup);
}

}  // namespace mvmm
