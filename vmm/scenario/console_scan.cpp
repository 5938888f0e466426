// Scanning a guest console log against a scenario's console policy.
#include <regex>

#include <mvmm/scenario/runner.hpp>

namespace mvmm::scenario {
namespace {

// A pattern: a plain substring search when it has no regular-expression
// syntax (most do, and console logs can be long), std::regex otherwise.
class Matcher {
  public:
    explicit Matcher(std::string pattern) : pattern_(std::move(pattern)) {
        if (pattern_.find_first_of("\\^$.|?*+()[]{}") != std::string::npos) {
            regex_.emplace(pattern_);
        }
    }
    [[nodiscard]] bool matches(std::string_view line) const {
        if (regex_) {
            return std::regex_search(line.begin(), line.end(), *regex_);
        }
        return line.find(pattern_) != std::string_view::npos;
    }
    [[nodiscard]] const std::string& pattern() const { return pattern_; }

  private:
    std::string pattern_;
    std::optional<std::regex> regex_;
};

std::vector<Matcher> matchers(const std::vector<std::string>& patterns) {
    std::vector<Matcher> out;
    out.reserve(patterns.size());
    for (const auto& p : patterns) {
        out.emplace_back(p);
    }
    return out;
}

const Matcher* first_match(const std::vector<Matcher>& list, std::string_view line) {
    for (const auto& m : list) {
        if (m.matches(line)) {
            return &m;
        }
    }
    return nullptr;
}

// Drops the line ending; findings show the rest as the guest wrote it.
std::string_view clean(std::string_view line) {
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
        line.remove_suffix(1);
    }
    return line;
}

}  // namespace

ConsoleScan scan_console(std::string_view text, const ConsolePolicy& policy,
                         const ExpectedOutcome& expect) {
    std::vector<std::string> forbid_list;
    if (policy.defaults) {
        forbid_list = default_forbidden_patterns();
    }
    forbid_list.insert(forbid_list.end(), policy.forbid.begin(), policy.forbid.end());
    const auto forbid = matchers(forbid_list);
    const auto allow = matchers(policy.allow);
    const auto require = matchers(policy.require);
    const auto oom = matchers(expect.patterns.empty() ? default_oom_patterns() : expect.patterns);
    std::vector<bool> required_seen(require.size(), false);

    ConsoleScan scan;
    std::size_t start = 0;
    std::size_t number = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const auto line = clean(text.substr(start, end - start));
        ++number;
        if (const auto* m = first_match(forbid, line); m != nullptr) {
            if (first_match(allow, line) == nullptr) {
                scan.forbidden.push_back({number, std::string(line), m->pattern()});
            }
        }
        for (std::size_t i = 0; i < require.size(); ++i) {
            if (!required_seen[i] && require[i].matches(line)) {
                required_seen[i] = true;
            }
        }
        if (!scan.out_of_memory) {
            if (const auto* m = first_match(oom, line); m != nullptr) {
                scan.out_of_memory = ConsoleFinding{number, std::string(line), m->pattern()};
            }
        }
        start = end + 1;
    }
    scan.lines = number;
    for (std::size_t i = 0; i < require.size(); ++i) {
        if (!required_seen[i]) {
            scan.missing_required.push_back(require[i].pattern());
        }
    }
    return scan;
}

std::vector<std::string> tail_lines(std::string_view text, std::size_t lines) {
    std::vector<std::string> out;
    if (lines == 0 || text.empty()) {
        return out;
    }
    std::size_t end = text.size();
    if (text.back() == '\n') {
        --end;
    }
    while (out.size() < lines) {
        const auto nl = end == 0 ? std::string_view::npos : text.rfind('\n', end - 1);
        const auto begin = nl == std::string_view::npos ? 0 : nl + 1;
        out.emplace_back(clean(text.substr(begin, end - begin)));
        if (nl == std::string_view::npos) {
            break;
        }
        end = nl;
    }
    return {out.rbegin(), out.rend()};
}

}  // namespace mvmm::scenario
