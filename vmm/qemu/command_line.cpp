#include <mvmm/common/strings.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/qemu/command_line.hpp>

namespace mvmm {

std::string qemu_default_cmdline() {
    return "console=ttyS0 panic=-1 reboot=t";
}

std::string qemu_option_value(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        out += c;
        if (c == ',') {
            out += ',';
        }
    }
    return out;
}

std::vector<std::string> qemu_command_line(const VmConfig& config, const QemuLaunch& launch) {
    const std::string ram_id(kQemuRamBackendId);
    const std::string memory = cat(config.memory_mib, "M");
    std::string cmdline = qemu_default_cmdline();
    if (!config.cmdline.empty()) {
        cmdline += " " + config.cmdline;
    }
    std::vector<std::string> args = {
        launch.binary,
        "-name",
        qemu_option_value(config.name),
        "-machine",
        cat(config.qemu.machine, ",memory-backend=", ram_id),
        "-accel",
        config.qemu.accel,
        "-smp",
        cat(config.vcpus),
        "-m",
        memory,
        "-object",
        cat("memory-backend-file,id=", ram_id, ",size=", memory,
            ",mem-path=", qemu_option_value(launch.ram_file.string()), ",share=on"),
        "-kernel",
        config.kernel.string(),
    };
    if (config.initramfs) {
        args.insert(args.end(), {"-initrd", config.initramfs->string()});
    }
    args.insert(args.end(),
                {
                    "-append",
                    cmdline,
                    // Nothing but what is listed here: no default devices, no user config,
                    // no window. The guest starts paused and a reboot ends QEMU.
                    "-nodefaults",
                    "-no-user-config",
                    "-display",
                    "none",
                    "-S",
                    "-no-reboot",
                    "-chardev",
                    cat("socket,id=mvmm-qmp,fd=", launch.qmp_fd),
                    "-mon",
                    "chardev=mvmm-qmp,mode=control",
                    // COM1: the console.
                    "-chardev",
                    cat("socket,id=mvmm-console,fd=", launch.console_fd),
                    "-serial",
                    "chardev:mvmm-console",
                    // COM2: the agent channel, served on a UNIX socket for the agent client.
                    "-chardev",
                    cat("socket,id=mvmm-agent,path=",
                        qemu_option_value(launch.agent_socket.string()), ",server=on,wait=off"),
                    "-device",
                    "isa-serial,index=1,chardev=mvmm-agent",
                    // The boot-complete marker port.
                    "-chardev",
                    cat("socket,id=mvmm-marker,fd=", launch.marker_fd),
                    "-device",
                    cat("isa-debugcon,iobase=", hex(MVMM_MARKER_PORT), ",chardev=mvmm-marker"),
                });
    args.insert(args.end(), config.qemu.extra_args.begin(), config.qemu.extra_args.end());
    return args;
}

}  // namespace mvmm
