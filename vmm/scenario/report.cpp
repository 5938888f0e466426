#include <fstream>
#include <map>
#include <thread>

#include <fcntl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/scenario/report.hpp>

namespace mvmm::scenario {
namespace {

using nlohmann::json;

std::string number(double value) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.3f", value);
    return buf.data();
}

// Length of the valid UTF-8 sequence at text[i], or 0 if there is none.
std::size_t utf8_length(std::string_view text, std::size_t i) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (b0 < 0x80) {
        return 1;
    }
    if ((b0 & 0xe0) == 0xc0) {
        n = 2;
        cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
        n = 3;
        cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
        n = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + n > text.size()) {
        return 0;
    }
    for (std::size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(text[i + k]);
        if ((b & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (b & 0x3f);
    }
    // Overlong forms, surrogates, values past U+10FFFF and the two
    // non-characters XML excludes are not allowed.
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp == 0xfffe || cp == 0xffff) {
        return 0;
    }
    return n;
}

std::string read_first_line(const char* file, std::string_view key) {
    std::ifstream in(file);
    std::string line;
    while (std::getline(in, line)) {
        if (starts_with(line, key)) {
            const auto colon = line.find(':');
            if (colon != std::string::npos) {
                return std::string(trim(line.substr(colon + 1)));
            }
        }
    }
    return {};
}

json step_json(const StepResult& s) {
    json j = {
        {"index", s.index},          {"name", s.name},
        {"type", to_string(s.type)}, {"status", to_string(s.status)},
        {"started", s.started},      {"seconds", s.seconds},
    };
    if (!s.result.is_null()) {
        j["result"] = s.result;
    }
    if (!s.assertions.empty()) {
        j["assertions"] = s.assertions;
    }
    if (!s.message.empty()) {
        j["message"] = s.message;
    }
    return j;
}

json scenario_json(const ScenarioResult& r) {
    json steps = json::array();
    for (const auto& s : r.steps) {
        steps.push_back(step_json(s));
    }
    json findings = json::array();
    for (const auto& f : r.console_findings) {
        findings.push_back({{"line", f.line}, {"text", f.text}, {"pattern", f.pattern}});
    }
    json j = {
        {"file", r.file.string()},
        {"name", r.name},
        {"description", r.description},
        {"parameters", r.parameters},
        {"status", to_string(r.status)},
        {"started_at", r.started_at},
        {"seconds", r.seconds},
        {"failures", r.failures},
        {"notes", r.notes},
        {"timed_out", r.timed_out},
        {"outcome",
         {{"expected", to_string(r.expected_outcome)},
          {"out_of_memory_seen", r.out_of_memory_seen},
          {"out_of_memory_evidence", r.out_of_memory_evidence}}},
        {"steps", steps},
        {"saved", r.saved},
        {"events", r.events},
        {"console",
         {{"log", r.console_log.string()}, {"findings", findings}, {"tail", r.console_tail}}},
        {"work_dir", r.work_dir.string()},
        {"vm_status", r.vm_status},
        {"vm_end", r.vm_end},
    };
    if (r.status == Status::skipped) {
        j["skip_reason"] = r.skip_reason;
    }
    return j;
}

struct Counts {
    std::size_t tests = 0, failures = 0, errors = 0, skipped = 0;
    double seconds = 0;
    void add(const ScenarioResult& r) {
        ++tests;
        failures += r.status == Status::failed ? 1 : 0;
        errors += r.status == Status::error ? 1 : 0;
        skipped += r.status == Status::skipped ? 1 : 0;
        seconds += r.seconds;
    }
};

std::string counts_attributes(const Counts& c) {
    return cat("tests=\"", c.tests, "\" failures=\"", c.failures, "\" errors=\"", c.errors,
               "\" skipped=\"", c.skipped, "\" time=\"", number(c.seconds), "\"");
}

// The failure text of a testcase: every reason, the failed step's
// assertions, and the console tail.
std::string failure_text(const ScenarioResult& r) {
    std::string text;
    for (const auto& f : r.failures) {
        text += "- " + f + "\n";
    }
    for (const auto& s : r.steps) {
        if (s.status != StepStatus::failed) {
            continue;
        }
        for (const auto& a : s.assertions) {
            text += cat("  step ", s.index, ": ", a, "\n");
        }
    }
    if (!r.console_tail.empty()) {
        text += cat("\nlast ", r.console_tail.size(), " console lines (", r.console_log.string(),
                    "):\n");
        for (const auto& line : r.console_tail) {
            text += line + "\n";
        }
    }
    return text;
}

std::string step_log(const ScenarioResult& r) {
    std::string text;
    for (const auto& s : r.steps) {
        text += cat("step ", s.index, " ", quote(s.name), " (", to_string(s.type),
                    "): ", to_string(s.status));
        if (s.status != StepStatus::not_run) {
            text += cat(" in ", number(s.seconds), " s");
        }
        text += "\n";
        for (const auto& a : s.assertions) {
            text += "  " + a + "\n";
        }
        if (!s.message.empty()) {
            text += "  " + s.message + "\n";
        }
    }
    for (const auto& n : r.notes) {
        text += "note: " + n + "\n";
    }
    if (!r.vm_end.empty()) {
        text += "VM: " + r.vm_end + "\n";
    }
    if (!r.work_dir.empty()) {
        text += "logs: " + r.work_dir.string() + "\n";
    }
    return text;
}

}  // namespace

std::string xml_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
            case '&':
                out += "&amp;";
                ++i;
                continue;
            case '<':
                out += "&lt;";
                ++i;
                continue;
            case '>':
                out += "&gt;";
                ++i;
                continue;
            case '"':
                out += "&quot;";
                ++i;
                continue;
            case '\'':
                out += "&apos;";
                ++i;
                continue;
            case '\t':
                out += "&#9;";
                ++i;
                continue;
            case '\n':
                out += "&#10;";
                ++i;
                continue;
            case '\r':
                out += "&#13;";
                ++i;
                continue;
            default:
                break;
        }
        if (u < 0x20 || u == 0x7f) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\x%02x", u);
            out += buf.data();
            ++i;
            continue;
        }
        const auto n = utf8_length(text, i);
        if (n == 0) {
            std::array<char, 8> buf{};
            std::snprintf(buf.data(), buf.size(), "\\x%02x", u);
            out += buf.data();
            ++i;
            continue;
        }
        out.append(text.substr(i, n));
        i += n;
    }
    return out;
}

json describe_host() {
    json host = json::object();
    std::array<char, 256> name{};
    if (::gethostname(name.data(), name.size() - 1) == 0) {
        host["hostname"] = name.data();
    }
    utsname u{};
    if (::uname(&u) == 0) {
        host["kernel"] = cat(u.sysname, " ", u.release);
        host["machine"] = u.machine;
    }
    host["cpu_model"] = read_first_line("/proc/cpuinfo", "model name");
    host["cpus"] = std::thread::hardware_concurrency();
    const auto mem = read_first_line("/proc/meminfo", "MemTotal");
    host["memory"] = mem;
    host["dev_kvm"] = ::access("/dev/kvm", F_OK) == 0;
    return host;
}

json json_report(const std::vector<ScenarioResult>& results, const RunInfo& info) {
    Counts total;
    json scenarios = json::array();
    for (const auto& r : results) {
        total.add(r);
        scenarios.push_back(scenario_json(r));
    }
    return {
        {"format", "mshare-vmm-scenario-report/1"},
        {"started_at", info.started_at},
        {"seconds", info.seconds},
        {"command_line", info.command_line},
        {"jobs", info.jobs},
        {"time_limit_factor", info.time_limit_factor},
        {"host", info.host},
        {"totals",
         {{"scenarios", total.tests},
          {"passed", total.tests - total.failures - total.errors - total.skipped},
          {"failed", total.failures},
          {"errors", total.errors},
          {"skipped", total.skipped}}},
        {"scenarios", scenarios},
    };
}

std::string json_text(const json& report) {
    return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string junit_report(const std::vector<ScenarioResult>& results, const RunInfo& info) {
    // One testsuite per file, in the order the files first appear.
    std::vector<std::filesystem::path> files;
    std::map<std::filesystem::path, std::vector<const ScenarioResult*>> by_file;
    Counts total;
    for (const auto& r : results) {
        if (!by_file.contains(r.file)) {
            files.push_back(r.file);
        }
        by_file[r.file].push_back(&r);
        total.add(r);
    }
    const std::string hostname = info.host.value("hostname", std::string("localhost"));
    std::string xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    xml += cat("<testsuites name=\"mshare-vmm scenarios\" ", counts_attributes(total), ">\n");
    for (std::size_t id = 0; id < files.size(); ++id) {
        const auto& file = files[id];
        Counts c;
        for (const auto* r : by_file[file]) {
            c.add(*r);
        }
        const auto suite = file.stem().string();
        xml += cat("  <testsuite name=\"", xml_escape(suite), "\" id=\"", id, "\" ",
                   counts_attributes(c), " timestamp=\"",
                   xml_escape(by_file[file].front()->started_at), "\" hostname=\"",
                   xml_escape(hostname), "\" file=\"", xml_escape(file.string()), "\">\n");
        if (!info.host.empty()) {
            xml += "    <properties>\n";
            for (const auto& [key, value] : info.host.items()) {
                xml += cat("      <property name=\"host.", xml_escape(key), "\" value=\"",
                           xml_escape(value.is_string() ? value.get<std::string>() : value.dump()),
                           "\"/>\n");
            }
            xml += "    </properties>\n";
        }
        for (const auto* r : by_file[file]) {
            xml += cat("    <testcase name=\"", xml_escape(r->name), "\" classname=\"",
                       xml_escape(cat("scenarios.", suite)), "\" time=\"", number(r->seconds),
                       "\" file=\"", xml_escape(file.string()), "\">\n");
            switch (r->status) {
                case Status::passed:
                    break;
                case Status::skipped:
                    xml += cat("      <skipped message=\"", xml_escape(r->skip_reason), "\"/>\n");
                    break;
                case Status::failed:
                case Status::error: {
                    const char* tag = r->status == Status::failed ? "failure" : "error";
                    const auto message =
                        r->failures.empty() ? std::string("failed") : r->failures.front();
                    xml += cat("      <", tag, " message=\"", xml_escape(message), "\" type=\"",
                               r->timed_out ? "timeout"
                                            : (r->status == Status::failed ? "scenario-failure"
                                                                           : "scenario-error"),
                               "\">", xml_escape(failure_text(*r)), "</", tag, ">\n");
                    break;
                }
            }
            const auto log = step_log(*r);
            if (!log.empty()) {
                xml += cat("      <system-out>", xml_escape(log), "</system-out>\n");
            }
            xml += "    </testcase>\n";
        }
        xml += "  </testsuite>\n";
    }
    xml += "</testsuites>\n";
    return xml;
}

void write_file_atomically(const std::filesystem::path& file, std::string_view content) {
    std::error_code ec;
    if (file.has_parent_path()) {
        std::filesystem::create_directories(file.parent_path(), ec);
        if (ec) {
            throw Error(cat("cannot make the folder ", quote(file.parent_path().string()), ": ",
                            ec.message()));
        }
    }
    const auto temp = cat(file.string(), ".tmp.", ::getpid());
    {
        UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        if (!fd) {
            throw_errno(cat("cannot write ", quote(temp)));
        }
        std::size_t done = 0;
        while (done < content.size()) {
            const auto n = ::write(fd.get(), content.data() + done, content.size() - done);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                const int err = errno;
                ::unlink(temp.c_str());
                throw_errno(cat("cannot write ", quote(temp)), err);
            }
            done += static_cast<std::size_t>(n);
        }
    }
    if (::rename(temp.c_str(), file.c_str()) != 0) {
        const int err = errno;
        ::unlink(temp.c_str());
        throw_errno(cat("cannot rename ", quote(temp), " to ", quote(file.string())), err);
    }
}

}  // namespace mvmm::scenario
