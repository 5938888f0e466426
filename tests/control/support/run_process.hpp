// Runs a shell command line for a test and collects its exit status, stdout
// and stderr.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <sys/wait.h>

namespace mvmm::control::test {

struct ProcessResult {
    int status = -1;  // exit status, or -1 if it did not exit normally
    std::string out;
    std::string err;
};

// `command` runs under /bin/sh; `scratch` is a folder for its stderr.
inline ProcessResult run_process(const std::string& command, const std::filesystem::path& scratch) {
    const auto err_file = scratch / "stderr.txt";
    const std::string full = command + " 2>'" + err_file.string() + "'";
    ProcessResult result;
    FILE* pipe = ::popen(full.c_str(), "r");
    if (pipe == nullptr) {
        return result;
    }
    char buffer[4096];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) {
        result.out.append(buffer, n);
    }
    const int status = ::pclose(pipe);
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream in(err_file);
    std::stringstream text;
    text << in.rdbuf();
    result.err = text.str();
    return result;
}

}  // namespace mvmm::control::test
