// The guest console (COM1): every engine feeds the bytes it gets from the
// guest into one ConsoleSink, which writes the log file, optionally echoes to
// stdout, keeps a tail for queries and error reports, and reports lines to a
// watcher (used to spot panics and kernel warnings).
#pragma once

#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm {

class ConsoleSink {
  public:
    struct Options {
        std::optional<std::filesystem::path> log_file;  // created or truncated
        bool echo_stdout = false;
        std::size_t tail_lines = 200;
    };
    using LineWatcher = std::function<void(std::string_view line)>;

    explicit ConsoleSink(Options options);
    ConsoleSink(const ConsoleSink&) = delete;
    ConsoleSink& operator=(const ConsoleSink&) = delete;

    // Thread-safe. Called by engines with raw bytes from the guest.
    void write(std::span<const std::byte> bytes);
    void write(std::string_view text);

    // Called (from the writing thread) with each complete line, without "\n".
    void set_line_watcher(LineWatcher watcher);

    // The last `lines` complete lines (plus an unfinished last one), oldest first.
    [[nodiscard]] std::vector<std::string> tail(std::size_t lines) const;
    [[nodiscard]] std::uint64_t bytes_written() const;

  private:
    Options options_;
    UniqueFd log_fd_;
    mutable std::mutex mutex_;
    std::deque<std::string> lines_;
    std::string partial_;
    std::uint64_t bytes_ = 0;
    LineWatcher watcher_;
};

}  // namespace mvmm
