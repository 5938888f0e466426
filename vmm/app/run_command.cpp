#include "run_command.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/config/vm_config.hpp>
#include <mvmm/control/control_service.hpp>
#include <mvmm/control/events.hpp>
#include <mvmm/guest_services/agent_service.hpp>
#include <mvmm/guest_services/introspection_backend.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/session/vm_session.hpp>

namespace mvmm::app {
namespace {

using Clock = std::chrono::steady_clock;

UniqueFd make_eventfd() {
    UniqueFd fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!fd) {
        throw_errno("eventfd");
    }
    return fd;
}

void signal_fd(const UniqueFd& fd) {
    const std::uint64_t one = 1;
    (void)!::write(fd.get(), &one, sizeof one);
}

void drain(int fd) {
    std::uint64_t value = 0;
    (void)!::read(fd, &value, sizeof value);
}

std::optional<Clock::time_point> deadline_after(double seconds) {
    if (seconds <= 0) {
        return std::nullopt;
    }
    return Clock::now() +
           std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev != nullptr ? cat("SIG", abbrev) : cat("signal ", sig);
}

int report(const char* what, const std::string& message, int status) {
    std::fprintf(stderr, "mshare-vmm run: %s: %s\n", what, message.c_str());
    return status;
}

}  // namespace

CLI::App* add_run_command(CLI::App& app, RunOptions& options) {
    auto* run = app.add_subcommand("run", "Boot the VM of a config file and run it until it ends");
    run->add_option("-c,--config", options.config_path, "VM config file (JSON)")->required();
    run->add_flag("--stop-after-boot", options.stop_after_boot,
                  "Stop the VM once the guest marks boot complete");
    run->add_option("--stop-after", options.stop_after_seconds,
                    "Stop the VM after this many seconds (exit status 0)")
        ->check(CLI::NonNegativeNumber);
    run->add_option("--boot-timeout", options.boot_timeout_seconds,
                    "Fail (exit status 5) if the guest has not marked boot complete after this "
                    "many seconds")
        ->check(CLI::NonNegativeNumber);
    run->add_flag_callback(
        "--console-stdout", [&options] { options.console_stdout = true; },
        "Echo the guest console to stdout (overrides the config)");
    run->add_flag_callback(
        "--no-console-stdout", [&options] { options.console_stdout = false; },
        "Do not echo the guest console to stdout (overrides the config)");
    return run;
}

int run_vm(const RunOptions& options) {
    // Signals are taken through a signalfd: block them before any thread starts.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    if (::pthread_sigmask(SIG_BLOCK, &signals, nullptr) != 0) {
        return report("error", "cannot block SIGINT and SIGTERM", kRunError);
    }
    const UniqueFd sig_fd(::signalfd(-1, &signals, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sig_fd) {
        return report("error", cat("signalfd: ", errno_text(errno)), kRunError);
    }

    VmConfig config;
    try {
        config = load_vm_config(options.config_path);
    } catch (const Error& e) {
        return report("config error", e.what(), kRunConfigError);
    }

    std::optional<Profile> profile;
    if (config.profile) {
        try {
            profile = Profile::load(*config.profile);
        } catch (const Error& e) {
            return report("config error", e.what(), kRunConfigError);
        }
    }

    // Declared before the session: its services use these until the session
    // has stopped them.
    std::unique_ptr<guest_services::IntrospectionBackend> introspection;
    std::unique_ptr<guest_services::ClassifiedKvmControl> kvm_control;
    control::ControlService* control_service = nullptr;
    std::unique_ptr<VmSession> session;
    try {
        session = std::make_unique<VmSession>(
            std::move(config),
            VmSession::Options{.console_stdout = options.console_stdout, .engine_factory = {}});
    } catch (const Error& e) {
        return report("engine failure", e.what(), kRunEngineFailure);
    }

    const UniqueFd booted_fd = make_eventfd();
    const UniqueFd ended_fd = make_eventfd();
    std::atomic<bool> booted{false};
    std::string crash_message;
    std::mutex crash_mutex;
    session->add_event_listener([&](const EngineEvent& event) {
        switch (event.kind) {
            case EngineEvent::Kind::boot_complete:
                log::info("run", "boot complete after ",
                          event.data.value("seconds", process_uptime_seconds()), " s");
                booted = true;
                signal_fd(booted_fd);
                break;
            case EngineEvent::Kind::engine_crash: {
                const std::lock_guard lock(crash_mutex);
                crash_message = event.data.value("message", event.reason);
                break;
            }
            case EngineEvent::Kind::stop:
            case EngineEvent::Kind::resume:
                break;
            default:
                log::info("run", "event ", qmp_event_name(event.kind),
                          event.reason.empty() ? "" : cat(" (", event.reason, ")"));
                break;
        }
    });

    // The control socket, with the guest agent and introspection parts.
    auto agent = std::make_unique<guest_services::AgentService>(
        session->config().agent_socket, [&control_service](double seconds) {
            if (control::ControlServer* server = control_service->server()) {
                server->publish(control::kAgentReadyEvent, {{"seconds", seconds}});
            }
        });
    introspection = std::make_unique<guest_services::IntrospectionBackend>(
        session->engine(), std::move(profile), agent.get());
    auto control = std::make_unique<control::ControlService>(
        *session, [&introspection, &kvm_control, agent = agent.get()](VmSession&,
                                                                      control::ControlBackend& b) {
            b.introspection = introspection.get();
            b.agent = agent;
            // The dirty log comes back with each page classified by a walk.
            if (b.kvm != nullptr) {
                kvm_control =
                    std::make_unique<guest_services::ClassifiedKvmControl>(*b.kvm, *introspection);
                b.kvm = kvm_control.get();
            }
        });
    control_service = control.get();
    session->add_service(std::move(control));
    session->add_service(std::move(agent));

    try {
        session->start();
    } catch (const Error& e) {
        return report("engine failure", e.what(), kRunEngineFailure);
    }
    log::info("run", "the VM runs on the ", session->engine().name(), " engine (",
              session->engine().selection_reason(), ")");

    RunState final_state = RunState::internal_error;
    std::jthread waiter([&] {
        final_state = session->wait();
        signal_fd(ended_fd);
    });

    const auto stop_at = deadline_after(options.stop_after_seconds);
    const auto boot_deadline = deadline_after(options.boot_timeout_seconds);
    bool stopping = false;
    bool boot_timed_out = false;
    auto stop_vm = [&](const std::string& why) {
        if (!stopping) {
            log::info("run", why, "; stopping the VM");
            stopping = true;
        }
        session->stop();
    };
    for (;;) {
        std::optional<Clock::time_point> next;
        if (!stopping) {
            for (const auto& deadline : {stop_at, booted ? std::nullopt : boot_deadline}) {
                if (deadline && (!next || *deadline < *next)) {
                    next = deadline;
                }
            }
        }
        int timeout_ms = -1;
        if (next) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(*next - Clock::now());
            timeout_ms = static_cast<int>(std::max<std::int64_t>(left.count() + 1, 0));
        }
        std::array<pollfd, 3> fds{
            {{sig_fd.get(), POLLIN, 0}, {booted_fd.get(), POLLIN, 0}, {ended_fd.get(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
            log::error("run", "poll: ", errno_text(errno));
            stop_vm("internal error");
        }
        if ((fds[2].revents & POLLIN) != 0) {
            break;
        }
        if ((fds[0].revents & POLLIN) != 0) {
            signalfd_siginfo info{};
            while (::read(sig_fd.get(), &info, sizeof info) == sizeof info) {
                stop_vm(cat("received ", signal_name(static_cast<int>(info.ssi_signo))));
            }
        }
        if ((fds[1].revents & POLLIN) != 0) {
            drain(booted_fd.get());
            if (options.stop_after_boot) {
                stop_vm("--stop-after-boot");
            }
        }
        if (!stopping && stop_at && Clock::now() >= *stop_at) {
            stop_vm(cat("--stop-after ", options.stop_after_seconds, " s passed"));
        }
        if (!stopping && !booted && boot_deadline && Clock::now() >= *boot_deadline) {
            boot_timed_out = true;
            log::error("run", "the guest did not mark boot complete within ",
                       options.boot_timeout_seconds, " s");
            stop_vm("--boot-timeout passed");
        }
    }
    waiter.join();

    log::info("run", "the VM ended: ", to_string(final_state));
    switch (final_state) {
        case RunState::guest_panicked:
            return report("guest panic", "the guest kernel panicked (see the console log)",
                          kRunGuestPanic);
        case RunState::shutdown:
            return boot_timed_out ? kRunBootTimeout : kRunClean;
        default: {
            const std::lock_guard lock(crash_mutex);
            return report("engine failure",
                          crash_message.empty()
                              ? cat("the VM ended in state ", to_string(final_state))
                              : crash_message,
                          kRunEngineFailure);
        }
    }
}

}  // namespace mvmm::app
