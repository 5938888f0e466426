#include "guest_vm.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <signal.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>

#include "qemu/guest_artifacts.hpp"

namespace mvmm::test {
namespace {

using namespace std::chrono_literals;

std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::string tail(const std::string& text, std::size_t bytes) {
    return text.size() > bytes ? "..." + text.substr(text.size() - bytes) : text;
}

}  // namespace

std::optional<std::filesystem::path> GuestVm::find_kernel(std::string& why) {
    const auto artifacts = find_guest_artifacts(why, /*need_initramfs=*/false);
    if (!artifacts) {
        return std::nullopt;
    }
    return artifacts->kernel;
}

std::filesystem::path GuestVm::initramfs() {
    return std::filesystem::path(MVMM_BINARY_DIR) / "guest" / "initramfs" / "initramfs.cpio";
}

GuestVm::GuestVm(const Options& options) {
    std::string why;
    const auto kernel = find_kernel(why);
    if (!kernel) {
        throw Error(why);
    }
    const auto agent_socket = dir_.path() / "agent.sock";
    config_ = dir_.write("vm.json",
                         nlohmann::json{
                             {"name", "guest-test"},
                             {"engine", "qemu"},
                             {"kernel", kernel->string()},
                             {"initramfs", initramfs().string()},
                             {"memory_mib", options.memory_mib},
                             {"vcpus", options.vcpus},
                             {"cmdline", options.cmdline_extra},
                             {"console_log", (dir_.path() / "console.log").string()},
                             {"agent_socket", agent_socket.string()},
                             {"control_socket", (dir_.path() / "control.sock").string()},
                         }
                             .dump(2));
    const UniqueFd log(
        ::open((dir_.path() / "vmm.log").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!log) {
        throw_errno("create " + quote((dir_.path() / "vmm.log").string()));
    }
    vmm_ = std::make_unique<ChildProcess>(
        ChildSpec{.argv = {std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm", "run", "--config",
                           config_.string()},
                  .inherit_fds = {},
                  .stderr_fd = log.get()});

    // Wait for the agent in short steps, so a VMM that ends early fails the
    // boot at once instead of after the whole timeout.
    agent_ = std::make_unique<agent::AgentClient>(agent_socket);
    const auto deadline = std::chrono::steady_clock::now() + options.boot_timeout;
    for (;;) {
        if (const auto status = vmm_ended()) {
            throw Error("mshare-vmm run " + describe_wait_status(*status) +
                        " before the guest agent answered\n" + diagnostics());
        }
        try {
            agent_->wait_ready(5s);
            return;
        } catch (const Error& e) {
            if (std::chrono::steady_clock::now() >= deadline) {
                throw Error(std::string("guest agent: ") + e.what() + "\n" + diagnostics());
            }
        }
    }
}

GuestVm::~GuestVm() {
    agent_.reset();
    if (!vmm_ || vmm_->status()) {
        return;
    }
    vmm_->signal(SIGTERM);
    for (int i = 0; i < 300 && !vmm_->try_wait(); ++i) {
        std::this_thread::sleep_for(100ms);
    }
    // ~ChildProcess kills it if it is still there.
}

std::optional<int> GuestVm::vmm_ended() {
    return vmm_->try_wait();
}

std::string GuestVm::console() const {
    return slurp(dir_.path() / "console.log");
}

std::string GuestVm::vmm_log() const {
    return slurp(dir_.path() / "vmm.log");
}

std::string GuestVm::diagnostics() const {
    return "--- mshare-vmm log (end) ---\n" + tail(vmm_log(), 2000) + "\n--- console (end) ---\n" +
           tail(console(), 3000);
}

}  // namespace mvmm::test
