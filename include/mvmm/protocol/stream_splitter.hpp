// Splits a byte stream from a control-socket client into complete JSON
// values, however the reads happen to be cut: several values in one read, or
// one value across many reads. It only finds where each value ends; parsing
// is parse_request()'s job (message.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::protocol {

class JsonStreamSplitter {
  public:
    static constexpr std::size_t kDefaultMaxMessageBytes = std::size_t{1} << 20;  // 1 MiB
    static constexpr std::size_t kDefaultMaxDepth = 128;

    struct Frame {
        enum class Kind {
            value,      // `text` is one complete top-level value (it may still be invalid JSON)
            too_deep,   // a value nested deeper than the limit; its text was dropped
            oversized,  // a value longer than the limit; the splitter accepts no more input
        };
        Kind kind = Kind::value;
        std::string text;
    };

    explicit JsonStreamSplitter(std::size_t max_message_bytes = kDefaultMaxMessageBytes,
                                std::size_t max_depth = kDefaultMaxDepth);

    // Consumes `bytes` and appends every frame it completes to `out`. After an
    // oversized frame the stream cannot be resynchronised: failed() turns true
    // and later input is ignored.
    void feed(std::string_view bytes, std::vector<Frame>& out);

    [[nodiscard]] bool failed() const noexcept { return failed_; }
    // True when no part of a value is buffered.
    [[nodiscard]] bool idle() const noexcept { return state_ == State::idle; }
    [[nodiscard]] std::size_t max_message_bytes() const noexcept { return max_bytes_; }

  private:
    enum class State { idle, container, string, string_escape, scalar };

    void begin(char c);
    void emit(std::vector<Frame>& out);
    void fail(std::vector<Frame>& out);
    void keep(char c);

    std::size_t max_bytes_;
    std::size_t max_depth_;
    State state_ = State::idle;
    std::size_t depth_ = 0;
    std::size_t length_ = 0;  // bytes of the current value, kept or not
    bool too_deep_ = false;
    bool failed_ = false;
    std::string text_;
};

}  // namespace mvmm::protocol
