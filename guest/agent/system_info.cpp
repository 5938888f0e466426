#include "system_info.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>

namespace mvmm::agent {
namespace {

using nlohmann::json;

std::optional<std::uint64_t> to_u64(std::string_view text) {
    std::uint64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

std::optional<std::int64_t> to_i64(std::string_view text) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc() || ptr != end) {
        return std::nullopt;
    }
    return value;
}

// "VmPTE:	      48 kB" -> 49152 for key "VmPTE".
std::optional<std::uint64_t> status_kb_field(std::string_view status, std::string_view key) {
    for (const auto& line : split(status, '\n')) {
        std::string_view l = line;
        if (l.size() > key.size() && starts_with(l, key) && l[key.size()] == ':') {
            auto rest = trim(l.substr(key.size() + 1));
            if (rest.size() > 3 && rest.substr(rest.size() - 3) == " kB") {
                rest = trim(rest.substr(0, rest.size() - 3));
                if (auto v = to_u64(rest)) {
                    return *v * 1024;
                }
            }
            return std::nullopt;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> status_plain_field(std::string_view status, std::string_view key) {
    for (const auto& line : split(status, '\n')) {
        std::string_view l = line;
        if (l.size() > key.size() && starts_with(l, key) && l[key.size()] == ':') {
            auto value = trim(l.substr(key.size() + 1));
            return to_u64(value.substr(0, value.find_first_of(" \t")));  // first of several
        }
    }
    return std::nullopt;
}

}  // namespace

json parse_meminfo(std::string_view text) {
    json out = json::object();
    for (const auto& line : split(text, '\n')) {
        const auto colon = line.find(':');
        if (colon == std::string::npos || colon == 0) {
            continue;
        }
        const std::string key(trim(std::string_view(line).substr(0, colon)));
        auto rest = trim(std::string_view(line).substr(colon + 1));
        std::uint64_t scale = 1;
        if (rest.size() > 3 && rest.substr(rest.size() - 3) == " kB") {
            rest = trim(rest.substr(0, rest.size() - 3));
            scale = 1024;
        }
        if (const auto v = to_u64(rest)) {
            out[key] = *v * scale;
        }
    }
    return out;
}

std::optional<std::string> parse_build_id(std::string_view notes) {
    // Elf64_Nhdr: namesz, descsz, type (4 bytes each), then name and desc,
    // each padded to 4 bytes.
    constexpr std::uint32_t kNtGnuBuildId = 3;
    std::size_t off = 0;
    const auto u32 = [&](std::size_t at) {
        std::uint32_t v = 0;
        for (int i = 3; i >= 0; --i) {
            v = (v << 8) | static_cast<std::uint8_t>(notes[at + static_cast<std::size_t>(i)]);
        }
        return v;
    };
    const auto pad4 = [](std::size_t n) { return (n + 3) & ~std::size_t{3}; };
    while (off + 12 <= notes.size()) {
        const std::size_t namesz = u32(off);
        const std::size_t descsz = u32(off + 4);
        const std::uint32_t type = u32(off + 8);
        const std::size_t name_at = off + 12;
        const std::size_t desc_at = name_at + pad4(namesz);
        if (namesz > notes.size() || descsz > notes.size() || desc_at + descsz > notes.size()) {
            return std::nullopt;
        }
        if (type == kNtGnuBuildId && namesz == 4 &&
            notes.substr(name_at, 4) == std::string_view("GNU\0", 4)) {
            static constexpr char kHex[] = "0123456789abcdef";
            std::string hex;
            for (std::size_t i = 0; i < descsz; ++i) {
                const auto b = static_cast<std::uint8_t>(notes[desc_at + i]);
                hex += kHex[b >> 4];
                hex += kHex[b & 15];
            }
            return hex.empty() ? std::nullopt : std::optional<std::string>(hex);
        }
        off = desc_at + pad4(descsz);
    }
    return std::nullopt;
}

std::optional<json> parse_process(int pid, std::string_view stat, std::string_view status) {
    // "PID (COMM) S PPID ...": COMM may hold spaces and parentheses, so it
    // ends at the last ')'.
    const auto open = stat.find('(');
    const auto close = stat.rfind(')');
    if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
        return std::nullopt;
    }
    const std::string comm(stat.substr(open + 1, close - open - 1));
    std::vector<std::string> fields;
    for (const auto& f : split(trim(stat.substr(close + 1)), ' ')) {
        if (!f.empty()) {
            fields.push_back(f);
        }
    }
    // After COMM: state(3) ppid(4) pgrp session tty_nr tpgid flags(9)
    // minflt(10) cminflt majflt(12) ... num_threads(20); fields[0] is field 3.
    if (fields.size() < 18) {
        return std::nullopt;
    }
    const auto ppid = to_i64(fields[1]);
    const auto flags = to_u64(fields[6]);
    const auto minflt = to_u64(fields[7]);
    const auto majflt = to_u64(fields[9]);
    const auto threads = to_i64(fields[17]);
    if (!ppid || !flags || !minflt || !majflt || !threads) {
        return std::nullopt;
    }
    constexpr std::uint64_t kPfKthread = 0x00200000;
    json p;
    p["pid"] = pid;
    p["ppid"] = *ppid;
    p["comm"] = comm;
    p["state"] = fields[0];
    p["threads"] = *threads;
    p["kernel-thread"] = (*flags & kPfKthread) != 0;
    p["vm-pte"] = status_kb_field(status, "VmPTE").value_or(0);
    p["vm-rss"] = status_kb_field(status, "VmRSS").value_or(0);
    p["minflt"] = *minflt;
    p["majflt"] = *majflt;
    if (const auto uid = status_plain_field(status, "Uid"); uid) {
        p["uid"] = *uid;
    }
    return p;
}

json list_processes(const std::filesystem::path& proc_root) {
    std::vector<int> pids;
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(proc_root, ec)) {
        const auto name = entry.path().filename().string();
        if (const auto pid = to_i64(name); pid && *pid > 0 && *pid <= 0x3fffffff) {
            pids.push_back(static_cast<int>(*pid));
        }
    }
    std::sort(pids.begin(), pids.end());
    json list = json::array();
    for (const int pid : pids) {
        const auto dir = proc_root / std::to_string(pid);
        const auto stat = read_small_file(dir / "stat", 4096);
        const auto status = read_small_file(dir / "status", 16384);
        if (!stat || !status) {
            continue;  // exited meanwhile
        }
        if (auto p = parse_process(pid, *stat, *status)) {
            list.push_back(std::move(*p));
        }
    }
    return list;
}

std::optional<std::string> read_small_file(const std::filesystem::path& file, std::size_t limit) {
    UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
    if (!fd) {
        return std::nullopt;
    }
    std::string out;
    std::array<char, 4096> buf{};
    while (out.size() < limit) {
        const ssize_t n = ::read(fd.get(), buf.data(), std::min(buf.size(), limit - out.size()));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace mvmm::agent
