// Running one scenario: boot, steps, checks, teardown.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <thread>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/runner.hpp>

#include "guest_exec.hpp"

namespace mvmm::scenario {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxListedFindings = 10;

std::string iso_now() {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

Clock::duration to_duration(double seconds) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

std::string seconds_text(double s) {
    std::array<char, 32> buf{};
    std::snprintf(buf.data(), buf.size(), "%.4g s", s);
    return buf.data();
}

// True if `data` contains every member of `subset`, recursively for objects.
bool contains_subset(const json& data, const json& subset) {
    if (!subset.is_object()) {
        return data == subset;
    }
    if (!data.is_object()) {
        return false;
    }
    for (const auto& [key, value] : subset.items()) {
        if (!data.contains(key) || !contains_subset(data[key], value)) {
            return false;
        }
    }
    return true;
}

std::string last_lines(const std::string& text, std::size_t n) {
    std::string out;
    for (const auto& line : tail_lines(text, n)) {
        out += "\n    " + line;
    }
    return out;
}

// Why a step failed; thrown inside a step, caught by the step loop.
class StepFailure : public Error {
  public:
    using Error::Error;
};

// A require step found a prerequisite missing: the scenario is skipped.
class ScenarioSkip : public Error {
  public:
    using Error::Error;
};

// One scenario run. Lives on the worker thread that runs it; only the
// watchdog touches `vm_` (kill) and the timeout flag from another thread.
class Run {
  public:
    Run(const Scenario& scenario, VmLauncher& launcher, const RunOptions& options,
        ProgressSink& progress)
        : scenario_(scenario), launcher_(launcher), options_(options), progress_(progress) {}

    ScenarioResult go() {
        r_.file = scenario_.file;
        r_.name = scenario_.name;
        r_.description = scenario_.description;
        r_.parameters = scenario_.parameters;
        r_.expected_outcome = scenario_.expect.outcome;
        r_.started_at = iso_now();
        for (const auto& step : scenario_.steps) {
            StepResult s;
            s.index = step.index;
            s.name = step.name;
            s.type = step.type;
            r_.steps.push_back(std::move(s));
        }
        progress_.scenario_started(scenario_);
        const bool cancelled = options_.cancel != nullptr && options_.cancel->load();
        if (!scenario_.vm || cancelled) {
            r_.status = Status::skipped;
            r_.skip_reason = cancelled ? "the run was interrupted" : scenario_.skip_reason;
            progress_.scenario_finished(scenario_, r_);
            return r_;
        }
        try {
            run_vm();
        } catch (const std::exception& e) {
            // Anything unforeseen still ends up in the report, not in a crash.
            r_.failures.push_back(cat("internal error: ", e.what()));
            r_.status = Status::error;
        }
        r_.seconds = clock_.seconds();
        progress_.scenario_finished(scenario_, r_);
        return r_;
    }

  private:
    void run_vm() {
        r_.work_dir = options_.output_dir / scenario_.file.stem() / scenario_.name;
        std::error_code ec;
        std::filesystem::create_directories(r_.work_dir, ec);
        if (ec) {
            r_.status = Status::error;
            r_.failures.push_back(
                cat("cannot make the folder ", quote(r_.work_dir.string()), ": ", ec.message()));
            return;
        }
        deadline_ =
            Clock::now() + to_duration(scenario_.time_limit_seconds * options_.time_limit_factor);
        try {
            vm_ = launcher_.launch(*scenario_.vm, r_.work_dir, deadline_);
        } catch (const std::exception& e) {
            r_.status = Status::error;
            r_.failures.push_back(cat("the VM did not start: ", e.what()));
            return;
        }
        r_.console_log = vm_->console_log();

        std::jthread watchdog([this](const std::stop_token& stop) {
            std::unique_lock lock(mutex_);
            const bool stopped = cv_.wait_until(lock, stop, deadline_, [] { return false; });
            if (!stopped && !stop.stop_requested()) {
                timed_out_ = true;
                lock.unlock();
                cv_.notify_all();
                vm_->kill();
            }
        });

        run_steps();
        if (!timed_out_) {
            final_status_check();
        }
        watchdog.request_stop();
        watchdog.join();

        try {
            r_.vm_end = vm_->shutdown(Clock::now() + to_duration(options_.shutdown_grace_seconds));
        } catch (const std::exception& e) {
            vm_->kill();
            r_.vm_end = cat("killed (", e.what(), ")");
        }
        drain_events();
        check_console_and_outcome();
        r_.timed_out = timed_out_;
        if (!r_.failures.empty()) {
            r_.status = Status::failed;
        } else {
            r_.status = skip_reason_.empty() ? Status::passed : Status::skipped;
            r_.skip_reason = skip_reason_;
        }
        if (r_.status == Status::failed || r_.status == Status::error) {
            r_.console_tail = tail_lines(console_, options_.console_tail_lines);
        }
    }

    void run_steps() {
        bool failed = false;
        for (std::size_t i = 0; i < scenario_.steps.size(); ++i) {
            const auto& step = scenario_.steps[i];
            auto& sr = r_.steps[i];
            if (timed_out_ || !skip_reason_.empty() || (failed && !step.always)) {
                continue;
            }
            progress_.step_started(scenario_, step);
            const Stopwatch sw;
            sr.started = clock_.seconds();
            try {
                drain_events();
                run_step(step, sr);
                sr.status = StepStatus::passed;
            } catch (const ScenarioSkip& e) {
                // The step did its job: it found what the scenario cannot do without.
                sr.status = StepStatus::passed;
                sr.message = e.what();
                skip_reason_ = e.what();
            } catch (const std::exception& e) {
                sr.status = StepStatus::failed;
                if (!timed_out_ && Clock::now() >= deadline_) {
                    // The step gave up at the scenario's deadline a moment
                    // before the watchdog fired: the same thing.
                    timed_out_ = true;
                    vm_->kill();
                }
                if (timed_out_) {
                    sr.message =
                        cat("the scenario's time limit of ",
                            seconds_text(scenario_.time_limit_seconds * options_.time_limit_factor),
                            " was reached during this step");
                } else {
                    sr.message = e.what();
                }
            }
            sr.seconds = sw.seconds();
            if (sr.status == StepStatus::failed) {
                failed = true;
                step_failures_.push_back(
                    cat("step ", step.index, " ", quote(step.name), ": ", sr.message));
            }
            progress_.step_finished(scenario_, sr);
        }
    }

    [[nodiscard]] Deadline step_deadline(const Step& step) const {
        if (!step.timeout_seconds) {
            return deadline_;
        }
        return std::min(deadline_, Clock::now() + to_duration(*step.timeout_seconds *
                                                              options_.time_limit_factor));
    }

    [[nodiscard]] double seconds_left(Deadline d) const {
        return std::chrono::duration<double>(d - Clock::now()).count();
    }

    // Sleeps until `until`, or less if the scenario times out.
    void sleep_until(Deadline until) {
        std::unique_lock lock(mutex_);
        cv_.wait_until(lock, until, [this] { return timed_out_.load(); });
        if (timed_out_) {
            throw TimedOut("time limit reached");
        }
    }

    void run_step(const Step& step, StepResult& sr) {
        const auto deadline = step_deadline(step);
        json result;
        bool has_result = true;
        std::string problem;  // set when the step failed but its result is worth keeping
        switch (step.type) {
            case StepType::exec: {
                const Stopwatch since;
                if (step.background) {
                    const auto id = start_exec(step, deadline_, deadline);
                    background_.emplace(step.save, Background{id, since});
                    result = {{"exec_id", id}, {"background", true}};
                    break;
                }
                problem = finish_exec(step, start_exec(step, deadline, deadline), since, deadline,
                                      result);
                break;
            }
            case StepType::exec_wait: {
                const auto& started = scenario_.steps.at(step.exec_step);
                const auto it = background_.find(step.exec);
                if (it == background_.end()) {
                    throw StepFailure(cat("step ", started.index, " ", quote(started.name),
                                          " did not start the program"));
                }
                problem = finish_exec(started, it->second.id, it->second.since, deadline, result);
                r_.saved[step.exec] = result;
                break;
            }
            case StepType::query:
                result = execute(step.command, step.arguments, deadline);
                break;
            case StepType::wait_event:
                result = wait_event(step, deadline);
                break;
            case StepType::wait_until:
                result = wait_until(step, deadline, sr);
                break;
            case StepType::pause:
                (void)execute("stop", json::object(), deadline);
                has_result = false;
                break;
            case StepType::resume:
                (void)execute("cont", json::object(), deadline);
                has_result = false;
                break;
            case StepType::sleep:
                sleep_until(std::min(deadline_, Clock::now() + to_duration(step.sleep_seconds)));
                has_result = false;
                break;
            case StepType::check:
                result = r_.saved;
                has_result = false;
                break;
            case StepType::require:
                result = require(step, deadline, sr);
                break;
        }
        if (has_result) {
            sr.result = result;
            if (!step.save.empty()) {
                r_.saved[step.save] = result;
            }
        }
        if (!problem.empty()) {
            throw StepFailure(problem);
        }
        if (step.type == StepType::wait_until) {
            return;  // its assertions were the condition it waited for
        }
        check_assertions(step, result, sr);
    }

    // Checks a require step's prerequisites; throws ScenarioSkip naming the
    // first one missing. The result lists what was checked.
    json require(const Step& step, Deadline deadline, StepResult& sr) {
        json result = {{"commands", json::array()}, {"guest_paths", json::array()}};
        const auto skip = [&](const std::string& what) {
            sr.result = result;
            throw ScenarioSkip(step.reason.empty() ? what : cat(what, " (", step.reason, ")"));
        };
        if (!step.commands.empty()) {
            if (!commands_) {
                commands_.emplace();
                const auto list = execute("query-commands", json::object(), deadline);
                for (const auto& c : list) {
                    if (c.is_object() && c.contains("name") && c["name"].is_string()) {
                        commands_->push_back(c["name"].get<std::string>());
                    }
                }
            }
            for (const auto& c : step.commands) {
                const bool there =
                    std::find(commands_->begin(), commands_->end(), c) != commands_->end();
                result["commands"].push_back({{"name", c}, {"available", there}});
                if (!there) {
                    skip(cat("the VMM does not answer ", quote(c),
                             " (it is not in query-commands)"));
                }
            }
        }
        for (const auto& p : step.guest_paths) {
            Step probe;
            probe.path = "/bin/busybox";
            probe.args = {"test", "-e", p};
            probe.expect_exit.reset();
            json out;
            const Stopwatch since;
            (void)finish_exec(probe, start_exec(probe, deadline, deadline), since, deadline, out);
            const bool there = out["exit_code"] == 0;
            result["guest_paths"].push_back({{"path", p}, {"exists", there}});
            if (!there) {
                if (out["exit_code"] != 1) {
                    throw StepFailure(cat("cannot tell whether the guest has ", p,
                                          ": 'busybox test -e' ended with ", out.dump()));
                }
                skip(cat("the guest has no ", p));
            }
        }
        return result;
    }

    void check_assertions(const Step& step, const json& subject, StepResult& sr) {
        std::vector<std::string> failed;
        for (const auto& a : step.asserts) {
            const auto outcome = evaluate(a, subject, r_.saved);
            sr.assertions.push_back(cat(outcome.passed ? "ok: " : "FAILED: ", outcome.message));
            if (!outcome.passed) {
                failed.push_back(outcome.message);
            }
        }
        if (!failed.empty()) {
            std::string text = failed.size() == 1 ? "assertion failed: "
                                                  : cat(failed.size(), " assertions failed: ");
            for (std::size_t i = 0; i < failed.size(); ++i) {
                text += (i ? "; " : "") + failed[i];
            }
            throw StepFailure(text);
        }
    }

    json execute(std::string_view command, const json& arguments, Deadline deadline) {
        try {
            return vm_->execute(command, arguments, deadline);
        } catch (const CommandFailed& e) {
            throw StepFailure(
                cat("command ", quote(command), " failed: ", e.error_class(), ": ", e.what()));
        } catch (const TimedOut&) {
            throw StepFailure(cat("command ", quote(command), " got no reply in time"));
        }
    }

    // Starts a guest program; returns its exec id.
    std::uint64_t start_exec(const Step& step, Deadline program_deadline, Deadline deadline) {
        const double budget = seconds_left(program_deadline);
        const auto reply =
            execute(options_.commands.guest_exec,
                    detail::guest_exec_arguments(step, std::max(1.0, budget)), deadline);
        return detail::guest_exec_id(reply);
    }

    // Waits for a guest program to end. `result` gets what it did; the
    // return value says what is wrong with that ("" if nothing).
    std::string finish_exec(const Step& step, std::uint64_t id, const Stopwatch& since,
                            Deadline deadline, json& result) {
        detail::ExecStatus status;
        while (true) {
            status = detail::parse_exec_status(
                execute(options_.commands.guest_exec_status, json{{"exec-id", id}}, deadline));
            if (status.exited) {
                break;
            }
            if (Clock::now() >= deadline) {
                throw StepFailure(cat("guest program ", step.path, " (exec id ", id,
                                      ") did not finish within ", seconds_text(since.seconds())));
            }
            sleep_until(std::min(deadline, Clock::now() + to_duration(options_.exec_poll_seconds)));
        }
        result = {
            {"exec_id", id},
            {"exit_code", status.exit_code ? json(*status.exit_code) : json()},
            {"signal", status.signal ? json(*status.signal) : json()},
            {"stdout", status.stdout_text},
            {"stderr", status.stderr_text},
            {"seconds", since.seconds()},
        };
        const auto stderr_tail = status.stderr_text.empty()
                                     ? std::string()
                                     : cat("; stderr:", last_lines(status.stderr_text, 10));
        std::string problem;
        if (status.signal && step.expect_exit) {
            problem = cat(step.path, " was killed by signal ", *status.signal, stderr_tail);
        } else if (step.expect_exit && status.exit_code != step.expect_exit) {
            problem = cat(step.path, " exited with status ",
                          status.exit_code ? std::to_string(*status.exit_code) : "?", ", expected ",
                          *step.expect_exit, stderr_tail);
        }
        if (step.output != OutputFormat::text) {
            try {
                result["json"] = parse_output(step, status.stdout_text);
            } catch (const StepFailure& e) {
                if (problem.empty()) {
                    problem = e.what();
                }
            }
        }
        return problem;
    }

    static json parse_output(const Step& step, const std::string& text) {
        const auto why = [&](const std::string& detail) {
            return StepFailure(cat("stdout of ", step.path, " is not ",
                                   step.output == OutputFormat::json ? "JSON" : "JSON lines", " (",
                                   detail, ")"));
        };
        if (step.output == OutputFormat::json) {
            try {
                return json::parse(text);
            } catch (const json::exception& e) {
                throw why(e.what());
            }
        }
        json lines = json::array();
        std::size_t number = 0;
        for (const auto& line : split(text, '\n')) {
            ++number;
            if (trim(line).empty()) {
                continue;
            }
            try {
                lines.push_back(json::parse(line));
            } catch (const json::exception& e) {
                throw why(cat("line ", number, ": ", e.what()));
            }
        }
        return lines;
    }

    void record_event(VmEvent event) {
        r_.events.push_back(
            {{"event", event.name}, {"data", event.data}, {"timestamp", event.timestamp}});
        pending_.push_back(std::move(event));
    }

    void drain_events() {
        if (!vm_) {
            return;
        }
        try {
            while (auto e = vm_->next_event(Clock::now())) {
                record_event(std::move(*e));
            }
        } catch (const std::exception&) {
            // The VM is gone; the steps say what that means.
        }
    }

    json wait_event(const Step& step, Deadline deadline) {
        const auto take = [&]() -> std::optional<json> {
            for (auto it = pending_.begin(); it != pending_.end(); ++it) {
                if (it->name == step.event && contains_subset(it->data, step.event_data)) {
                    json out = {
                        {"event", it->name}, {"data", it->data}, {"timestamp", it->timestamp}};
                    pending_.erase(it);
                    return out;
                }
            }
            return std::nullopt;
        };
        while (true) {
            if (auto found = take()) {
                return *found;
            }
            std::optional<VmEvent> e;
            try {
                e = vm_->next_event(deadline);
            } catch (const TimedOut&) {
            }
            if (!e) {
                throw StepFailure(
                    cat("no ", step.event, " event",
                        step.event_data.empty() ? "" : " with data " + step.event_data.dump(),
                        " arrived in time"));
            }
            record_event(std::move(*e));
        }
    }

    json wait_until(const Step& step, Deadline deadline, StepResult& sr) {
        std::string last;
        while (true) {
            try {
                auto result = vm_->execute(step.command, step.arguments, deadline);
                std::vector<std::string> lines;
                bool all = true;
                std::string first_failed;
                for (const auto& a : step.asserts) {
                    const auto o = evaluate(a, result, r_.saved);
                    lines.push_back(cat(o.passed ? "ok: " : "FAILED: ", o.message));
                    if (!o.passed && all) {
                        all = false;
                        first_failed = o.message;
                    }
                }
                sr.assertions = std::move(lines);
                if (all) {
                    return result;
                }
                last = first_failed;
            } catch (const CommandFailed& e) {
                last = cat("command ", quote(step.command), " failed: ", e.error_class(), ": ",
                           e.what());
                if (e.error_class() == "CommandNotFound") {
                    // A VMM's commands do not change while it runs: waiting is pointless.
                    throw StepFailure(last);
                }
            } catch (const TimedOut&) {
                last = cat("command ", quote(step.command), " got no reply in time");
            }
            if (Clock::now() >= deadline) {
                throw StepFailure(cat("condition not reached in time; last: ", last));
            }
            sleep_until(std::min(deadline, Clock::now() + to_duration(step.interval_seconds)));
        }
    }

    // After the steps: did the guest end or panic under us?
    void final_status_check() {
        drain_events();
        for (const auto& e : r_.events) {
            if (e["event"] == "GUEST_PANICKED") {
                final_failures_.emplace_back("the guest kernel panicked (GUEST_PANICKED event)");
                return;
            }
        }
        try {
            const auto status = vm_->execute(options_.commands.query_status, json::object(),
                                             Clock::now() + std::chrono::seconds(10));
            r_.vm_status = status;
            const auto s = status.is_object() ? status.value("status", std::string()) : "";
            if (s == "guest-panicked" || s == "internal-error" || s == "shutdown") {
                final_failures_.push_back(
                    cat("the VM is in state ", quote(s), " at the end of the scenario"));
            }
        } catch (const std::exception& e) {
            r_.notes.push_back(cat("could not query the VM's state at the end: ", e.what()));
        }
    }

    void check_console_and_outcome() {
        try {
            console_ = vm_->console_text();
        } catch (const std::exception& e) {
            r_.notes.push_back(cat("could not read the console: ", e.what()));
        }
        const auto scan = scan_console(console_, scenario_.console, scenario_.expect);
        r_.console_findings = scan.forbidden;
        std::vector<std::string> console_failures;
        for (std::size_t i = 0; i < scan.forbidden.size() && i < kMaxListedFindings; ++i) {
            const auto& f = scan.forbidden[i];
            console_failures.push_back(cat("console line ", f.line, ": ", quote(f.text),
                                           " (matches ", quote(f.pattern), ")"));
        }
        if (scan.forbidden.size() > kMaxListedFindings) {
            console_failures.push_back(cat("... and ", scan.forbidden.size() - kMaxListedFindings,
                                           " more forbidden console lines"));
        }
        for (const auto& p : scan.missing_required) {
            console_failures.push_back(
                cat("no console line matches the required pattern ", quote(p)));
        }
        if (scan.out_of_memory) {
            r_.out_of_memory_seen = true;
            r_.out_of_memory_evidence =
                cat("console line ", scan.out_of_memory->line, ": ", scan.out_of_memory->text);
        }

        std::vector<std::string> failures;
        if (timed_out_) {
            std::string where;
            for (const auto& s : r_.steps) {
                if (s.status == StepStatus::failed) {
                    where = cat(" during step ", s.index, " ", quote(s.name));
                }
            }
            failures.push_back(
                cat("time limit of ",
                    seconds_text(scenario_.time_limit_seconds * options_.time_limit_factor),
                    " reached", where, "; the VM was killed"));
        }
        if (!skip_reason_.empty()) {
            // Skipped: only what went wrong regardless of the steps counts.
            failures.insert(failures.end(), final_failures_.begin(), final_failures_.end());
        } else if (scenario_.expect.outcome == Outcome::out_of_memory) {
            if (r_.out_of_memory_seen) {
                r_.notes.push_back(cat("expected out-of-memory seen: ", r_.out_of_memory_evidence));
                for (const auto& f : step_failures_) {
                    r_.notes.push_back(cat("after the expected out-of-memory: ", f));
                }
                for (const auto& f : final_failures_) {
                    r_.notes.push_back(cat("after the expected out-of-memory: ", f));
                }
            } else {
                failures.insert(failures.end(), step_failures_.begin(), step_failures_.end());
                failures.insert(failures.end(), final_failures_.begin(), final_failures_.end());
                failures.emplace_back(
                    "expected the guest to run out of memory, but no console line showed it");
            }
        } else {
            if (!timed_out_) {
                failures.insert(failures.end(), step_failures_.begin(), step_failures_.end());
            }
            failures.insert(failures.end(), final_failures_.begin(), final_failures_.end());
            if (r_.out_of_memory_seen) {
                failures.push_back(
                    cat("the guest ran out of memory unexpectedly: ", r_.out_of_memory_evidence));
            }
        }
        failures.insert(failures.end(), console_failures.begin(), console_failures.end());
        r_.failures.insert(r_.failures.end(), failures.begin(), failures.end());
    }

    const Scenario& scenario_;
    VmLauncher& launcher_;
    const RunOptions& options_;
    ProgressSink& progress_;
    ScenarioResult r_;
    Stopwatch clock_;
    Deadline deadline_{};
    std::unique_ptr<VmConnection> vm_;
    std::mutex mutex_;
    std::condition_variable_any cv_;
    std::atomic<bool> timed_out_{false};
    std::vector<VmEvent> pending_;
    struct Background {
        std::uint64_t id;
        Stopwatch since;
    };
    std::map<std::string, Background> background_;  // by save name
    std::vector<std::string> step_failures_;
    std::vector<std::string> final_failures_;
    std::string skip_reason_;                           // set by a require step
    std::optional<std::vector<std::string>> commands_;  // query-commands, once asked
    std::string console_;
};

}  // namespace

std::string_view to_string(Status status) {
    switch (status) {
        case Status::passed:
            return "passed";
        case Status::failed:
            return "failed";
        case Status::error:
            return "error";
        case Status::skipped:
            return "skipped";
    }
    return "?";
}

std::string_view to_string(StepStatus status) {
    switch (status) {
        case StepStatus::passed:
            return "passed";
        case StepStatus::failed:
            return "failed";
        case StepStatus::not_run:
            return "not-run";
    }
    return "?";
}

ScenarioResult run_scenario(const Scenario& scenario, VmLauncher& launcher,
                            const RunOptions& options, ProgressSink& progress) {
    Run run(scenario, launcher, options, progress);
    return run.go();
}

std::vector<ScenarioResult> run_scenarios(const std::vector<const Scenario*>& scenarios,
                                          VmLauncher& launcher, const RunOptions& options,
                                          ProgressSink& progress) {
    std::vector<ScenarioResult> results(scenarios.size());
    std::atomic<std::size_t> next{0};
    const auto worker = [&] {
        while (true) {
            const auto i = next.fetch_add(1);
            if (i >= scenarios.size()) {
                return;
            }
            results[i] = run_scenario(*scenarios[i], launcher, options, progress);
        }
    };
    const auto jobs =
        std::clamp<std::size_t>(options.jobs, 1, std::max<std::size_t>(1, scenarios.size()));
    {
        std::vector<std::jthread> threads;
        for (std::size_t j = 1; j < jobs; ++j) {
            threads.emplace_back(worker);
        }
        worker();
    }
    return results;
}

}  // namespace mvmm::scenario
