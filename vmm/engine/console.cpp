#include <fcntl.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/engine/console.hpp>

namespace mvmm {
namespace {

void write_all(int fd, const char* data, std::size_t size) {
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return;  // a console that cannot be written must not stop the guest
        }
        data += n;
        size -= static_cast<std::size_t>(n);
    }
}

}  // namespace

ConsoleSink::ConsoleSink(Options options) : options_(std::move(options)) {
    if (options_.log_file) {
        log_fd_ = UniqueFd(
            ::open(options_.log_file->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!log_fd_) {
            throw_errno(cat("console log ", quote(options_.log_file->string())));
        }
    }
}

void ConsoleSink::write(std::span<const std::byte> bytes) {
    write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

void ConsoleSink::write(std::string_view text) {
    std::vector<std::string> complete;
    LineWatcher watcher;
    {
        const std::lock_guard lock(mutex_);
        bytes_ += text.size();
        if (log_fd_) {
            write_all(log_fd_.get(), text.data(), text.size());
        }
        if (options_.echo_stdout) {
            write_all(STDOUT_FILENO, text.data(), text.size());
        }
        for (char c : text) {
            if (c == '\n') {
                if (!partial_.empty() && partial_.back() == '\r') {
                    partial_.pop_back();
                }
                complete.push_back(partial_);
                lines_.push_back(std::move(partial_));
                partial_.clear();
                while (lines_.size() > options_.tail_lines) {
                    lines_.pop_front();
                }
            } else if (partial_.size() < 64 * 1024) {
                partial_ += c;
            }
        }
        watcher = watcher_;
    }
    if (watcher) {
        for (const auto& line : complete) {
            watcher(line);
        }
    }
}

void ConsoleSink::set_line_watcher(LineWatcher watcher) {
    const std::lock_guard lock(mutex_);
    watcher_ = std::move(watcher);
}

std::vector<std::string> ConsoleSink::tail(std::size_t lines) const {
    const std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    const std::size_t total = lines_.size() + (partial_.empty() ? 0 : 1);
    const std::size_t skip = total > lines ? total - lines : 0;
    std::size_t index = 0;
    for (const auto& line : lines_) {
        if (index++ >= skip) {
            out.push_back(line);
        }
    }
    if (!partial_.empty() && index >= skip) {
        out.push_back(partial_);
    }
    return out;
}

std::uint64_t ConsoleSink::bytes_written() const {
    const std::lock_guard lock(mutex_);
    return bytes_;
}

}  // namespace mvmm
