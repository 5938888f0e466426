// Running a shell command from a test and capturing what it prints.
#pragma once

#include <array>
#include <cstdio>
#include <string>

#include <sys/wait.h>

namespace mvmm::test {

struct CommandResult {
    int status = -1;  // exit status; -1 if it could not start or did not exit normally
    std::string out;  // its standard output (redirect stderr in the command to keep it)
};

// Runs `command` with /bin/sh.
inline CommandResult run_shell(const std::string& command) {
    CommandResult r;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) {
        return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) {
        r.out.append(buf.data(), n);
    }
    const int st = ::pclose(pipe);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

}  // namespace mvmm::test
