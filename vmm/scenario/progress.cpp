#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/progress.hpp>

namespace mvmm::scenario {
namespace {

constexpr const char* kGreen = "\033[32m";
constexpr const char* kRed = "\033[31m";
constexpr const char* kYellow = "\033[33m";
constexpr const char* kReset = "\033[0m";
constexpr const char* kClearLine = "\r\033[K";

std::string clock_text(double seconds) {
    const auto s = static_cast<long>(seconds);
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "[%3ld:%02ld]", s / 60, s % 60);
    return buf.data();
}

std::string duration_text(double seconds) {
    std::array<char, 32> buf{};
    if (seconds < 60) {
        std::snprintf(buf.data(), buf.size(), "%.1f s", seconds);
    } else {
        const auto s = static_cast<long>(seconds);
        std::snprintf(buf.data(), buf.size(), "%ld min %02ld s", s / 60, s % 60);
    }
    return buf.data();
}

class ConsoleProgress : public ProgressSink {
  public:
    ConsoleProgress(std::FILE* out, bool terminal) : out_(out), terminal_(terminal) {
        if (terminal_) {
            ticker_ = std::jthread([this](const std::stop_token& stop) { tick(stop); });
        }
    }
    ConsoleProgress(const ConsoleProgress&) = delete;
    ConsoleProgress& operator=(const ConsoleProgress&) = delete;
    ~ConsoleProgress() override {
        if (ticker_.joinable()) {
            ticker_.request_stop();
            cv_.notify_all();
            ticker_.join();
        }
        const std::lock_guard lock(mutex_);
        if (terminal_ && status_shown_) {
            std::fputs(kClearLine, out_);
            std::fflush(out_);
        }
    }

    void scenario_started(const Scenario& s) override {
        const std::lock_guard lock(mutex_);
        running_[&s] = Running{Stopwatch(), "starting the VM", Stopwatch()};
        line(cat(s.name, ": started (", s.file.filename().string(),
                 s.parameters.empty() ? "" : ", " + s.parameters.dump(), ")"));
    }

    void step_started(const Scenario& s, const Step& step) override {
        const std::lock_guard lock(mutex_);
        auto& r = running_[&s];
        r.step = cat("step ", step.index, " ", quote(step.name));
        r.step_clock.restart();
        if (!terminal_) {
            line(cat(s.name, ": step ", step.index, " ", quote(step.name), " ..."));
        }
    }

    void step_finished(const Scenario& s, const StepResult& step) override {
        const std::lock_guard lock(mutex_);
        std::string verdict = step.status == StepStatus::passed ? "passed" : "FAILED";
        if (terminal_) {
            verdict = cat(step.status == StepStatus::passed ? kGreen : kRed, verdict, kReset);
        }
        std::string text = cat(s.name, ": step ", step.index, " ", quote(step.name), " ", verdict,
                               " in ", duration_text(step.seconds));
        if (step.status == StepStatus::failed) {
            text += ": " + step.message;
        }
        line(text);
    }

    void scenario_finished(const Scenario& s, const ScenarioResult& r) override {
        const std::lock_guard lock(mutex_);
        running_.erase(&s);
        std::string verdict = std::string(to_string(r.status));
        for (auto& c : verdict) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        if (terminal_) {
            const char* colour = r.status == Status::passed    ? kGreen
                                 : r.status == Status::skipped ? kYellow
                                                               : kRed;
            verdict = cat(colour, verdict, kReset);
        }
        std::string text = cat(s.name, ": ", verdict);
        if (r.status == Status::skipped) {
            text += ": " + r.skip_reason;
        } else {
            text += " in " + duration_text(r.seconds);
            if (!r.failures.empty()) {
                text += ": " + r.failures.front();
                if (r.failures.size() > 1) {
                    text += cat(" (and ", r.failures.size() - 1, " more)");
                }
            }
        }
        line(text);
    }

  private:
    struct Running {
        Stopwatch clock;
        std::string step;
        Stopwatch step_clock;
    };

    // With mutex_ held.
    void line(const std::string& text) {
        if (terminal_ && status_shown_) {
            std::fputs(kClearLine, out_);
            status_shown_ = false;
        }
        std::fprintf(out_, "%s %s\n", clock_text(clock_.seconds()).c_str(), text.c_str());
        if (terminal_) {
            draw_status();
        }
        std::fflush(out_);
    }

    // With mutex_ held.
    void draw_status() {
        if (running_.empty()) {
            return;
        }
        std::string text;
        for (const auto& [scenario, r] : running_) {
            text += cat(text.empty() ? "" : " | ", scenario->name, ": ", r.step, " ",
                        static_cast<long>(r.step_clock.seconds()), " s");
        }
        constexpr std::size_t kWidth = 150;
        if (text.size() > kWidth) {
            text = text.substr(0, kWidth - 3) + "...";
        }
        std::fprintf(out_, "%s%s running: %s", kClearLine, clock_text(clock_.seconds()).c_str(),
                     text.c_str());
        status_shown_ = true;
    }

    void tick(const std::stop_token& stop) {
        std::unique_lock lock(mutex_);
        while (!stop.stop_requested()) {
            cv_.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
            if (stop.stop_requested()) {
                return;
            }
            draw_status();
            std::fflush(out_);
        }
    }

    std::FILE* out_;
    bool terminal_;
    Stopwatch clock_;
    std::mutex mutex_;
    std::condition_variable_any cv_;
    std::map<const Scenario*, Running> running_;
    bool status_shown_ = false;
    std::jthread ticker_;
};

}  // namespace

std::unique_ptr<ProgressSink> make_console_progress(std::FILE* out, bool terminal) {
    return std::make_unique<ConsoleProgress>(out, terminal);
}

}  // namespace mvmm::scenario
