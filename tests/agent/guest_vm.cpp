#include "guest_vm.hpp"

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>

namespace mvmm::test {
namespace {

std::string slurp(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

}  // namespace

std::optional<std::filesystem::path> GuestVm::find_kernel(std::string& why) {
    if (const char* env = std::getenv("MVMM_TEST_KERNEL"); env != nullptr && *env) {
        if (std::filesystem::exists(env)) {
            return std::filesystem::path(env);
        }
        why = std::string("MVMM_TEST_KERNEL=") + env + " does not exist";
        return std::nullopt;
    }
    const auto out = std::filesystem::path(MVMM_SOURCE_DIR) / "out" / "kernel" / "bzImage";
    if (std::filesystem::exists(out)) {
        return out;
    }
    why = "no guest kernel: " + out.string() +
          " is missing (build it with guest-kernel-patch/build.sh, or set MVMM_TEST_KERNEL)";
    return std::nullopt;
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
    const auto sock = dir_.path() / "agent.sock";
    const auto console_log = dir_.path() / "console.log";
    const auto marker_log = dir_.path() / "marker.log";
    std::vector<std::string> args{
        "qemu-system-x86_64",
        "-machine",
        "microvm",
        "-m",
        std::to_string(options.memory_mib),
        "-smp",
        "1",
        "-display",
        "none",
        "-monitor",
        "none",
        "-no-reboot",
        "-nodefaults",
        "-kernel",
        kernel->string(),
        "-initrd",
        initramfs().string(),
        "-append",
        "console=ttyS0 panic=-1 " + options.cmdline_extra,
        "-chardev",
        "file,id=con,path=" + console_log.string(),
        "-serial",
        "chardev:con",
        "-chardev",
        "socket,id=agent,path=" + sock.string() + ",server=on,wait=off",
        "-device",
        "isa-serial,chardev=agent,iobase=0x2f8,irq=3",
        "-chardev",
        "file,id=marker,path=" + marker_log.string(),
        "-device",
        "isa-debugcon,iobase=0xe9,chardev=marker",
    };
    std::vector<char*> argv;
    for (auto& a : args) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    qemu_ = ::fork();
    if (qemu_ < 0) {
        throw_errno("fork for qemu");
    }
    if (qemu_ == 0) {
        ::execvp(argv[0], argv.data());
        ::_exit(127);
    }
    agent_ = std::make_unique<agent::AgentClient>(sock);
    try {
        agent_->wait_ready(std::chrono::seconds(180));
    } catch (const Error& e) {
        const auto tail = console();
        throw Error(std::string(e.what()) + "\n--- console tail ---\n" +
                    tail.substr(tail.size() > 3000 ? tail.size() - 3000 : 0));
    }
}

GuestVm::~GuestVm() {
    agent_.reset();
    if (qemu_ > 0) {
        ::kill(qemu_, SIGKILL);
        int status = 0;
        ::waitpid(qemu_, &status, 0);
    }
}

std::string GuestVm::console() const {
    return slurp(dir_.path() / "console.log");
}
std::string GuestVm::markers() const {
    return slurp(dir_.path() / "marker.log");
}

}  // namespace mvmm::test
