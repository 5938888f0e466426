// A real Linux boot under the KVM engine (label slow): the project's guest
// kernel (out/kernel/vmlinux) and initramfs. Where KVM can run guest user
// space the boot goes on to the agent's boot-complete marker; where it cannot
// (KVM emulating kernel code, as on the development machines) it goes as far
// as the kernel's "Run /init" line. The test prints which happened, and when.
#include <atomic>
#include <filesystem>
#include <iostream>
#include <thread>

#include <gtest/gtest.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/kvm/host_check.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;

TEST(KvmLinuxBoot, BootsTheGuestKernel) {
    const std::filesystem::path out = std::filesystem::path(MVMM_SOURCE_DIR) / "out";
    const auto vmlinux = out / "kernel" / "vmlinux";
    const auto initramfs = out / "initramfs" / "initramfs.cpio";
    if (!std::filesystem::exists(vmlinux) || !std::filesystem::exists(initramfs)) {
        GTEST_SKIP() << vmlinux << " or " << initramfs
                     << " is not built yet (scripts/setup.sh builds them)";
    }
    const auto check = check_kvm_host();
    if (!check.kvm_usable) {
        GTEST_SKIP() << check.reason;
    }
    const bool full_boot = check.user_space_works;

    test::TempDir dir;
    VmConfig config;
    config.name = "linux-boot";
    config.kernel = vmlinux;
    config.initramfs = initramfs;
    config.agent_socket = dir.path() / "agent.sock";
    if (full_boot) {
        config.vcpus = 2;
        config.memory_mib = 256;
    } else {
        // Every kernel instruction is emulated here: one vCPU (no AP start-up
        // to emulate) and the least memory (less struct page set-up) keep the
        // boot to a few minutes.
        config.vcpus = 1;
        config.memory_mib = 64;
    }
    ConsoleSink console({dir.path() / "console.log", false, 400});
    Stopwatch watch;
    std::atomic<bool> reached_init{false};
    console.set_line_watcher([&](std::string_view line) {
        // Progress for whoever watches the test log.
        std::printf("[%7.1f s] %.*s\n", watch.seconds(), static_cast<int>(line.size()),
                    line.data());
        std::fflush(stdout);
        if (line.find("Run /init as init process") != std::string_view::npos) {
            reached_init = true;
        }
    });
    EngineSetup setup{config, console, dir.path()};
    setup.allow_kvm_without_user_space = true;
    auto engine = make_kvm_engine(setup);
    std::atomic<bool> boot_complete{false};
    engine->set_event_handler([&](const EngineEvent& e) {
        if (e.kind == EngineEvent::Kind::boot_complete) {
            boot_complete = true;
        }
    });
    engine->start();

    const auto limit = 25min;
    const auto done = [&] { return full_boot ? boot_complete.load() : reached_init.load(); };
    while (!done() && engine->state() != RunState::shutdown &&
           engine->state() != RunState::internal_error && watch.seconds() < limit.count() * 60.0) {
        std::this_thread::sleep_for(100ms);
    }
    const double seconds = watch.seconds();
    const auto state = engine->state();
    engine->stop();
    engine->wait();

    if (full_boot) {
        ASSERT_TRUE(boot_complete) << "no boot-complete marker; the VM ended " << to_string(state);
        std::cout << "KVM engine: booted to the agent (boot-complete marker) in " << seconds
                  << " s\n";
    } else {
        ASSERT_TRUE(reached_init) << "the kernel did not reach 'Run /init'; the VM ended "
                                  << to_string(state) << "; console tail:\n"
                                  << [&] {
                                         std::string t;
                                         for (const auto& l : console.tail(30)) {
                                             t += l + "\n";
                                         }
                                         return t;
                                     }();
        std::cout << "KVM engine: reached 'Run /init' in " << seconds
                  << " s; the boot cannot go further on this host: " << check.reason << "\n";
    }
}

}  // namespace
}  // namespace mvmm
