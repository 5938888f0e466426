// Splits a byte stream into JSON values, the framing of the guest agent
// protocol in both directions. Values need no separator: "{..}{..}" and
// "{..}\n{..}" both give two messages, and one message may arrive over many
// reads.
//
// - A top-level '{' or '[' starts a message; it ends at its matching bracket
//   (brackets inside strings do not count). The text is not validated here.
// - Any other run of non-whitespace bytes between messages is garbage and
//   gives one error item when it ends (at whitespace, '{' or '['), however
//   the reads split it.
// - A message longer than the limit gives an error item as soon as it
//   crosses the limit; the rest of it is skipped without being stored.
// - The byte 0xFF (never part of UTF-8 JSON) drops any partial message and
//   gives a delimiter item: the resynchronisation point of guest-sync-delimited.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::agent {

inline constexpr char kDelimiter = '\xff';

class JsonStreamSplitter {
  public:
    struct Item {
        enum class Kind { message, error, delimiter };
        Kind kind = Kind::message;
        std::string text;  // message: the JSON text; error: what was wrong
    };

    explicit JsonStreamSplitter(std::size_t max_message) : max_message_(max_message) {}

    // Consumes `bytes` and appends every finished item to `out`.
    void feed(std::string_view bytes, std::vector<Item>& out);

    // Forgets any partial message or garbage.
    void reset();

    [[nodiscard]] std::size_t max_message() const { return max_message_; }
    // Bytes held for the message in progress (never more than max_message()).
    [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }

  private:
    enum class State { idle, value, oversized, garbage };
    void finish_garbage(std::vector<Item>& out);

    std::size_t max_message_;
    State state_ = State::idle;
    std::string buffer_;
    std::size_t depth_ = 0;
    bool in_string_ = false;
    bool escape_ = false;
    std::string garbage_head_;  // the first bytes of a garbage run, for the message
    std::size_t garbage_size_ = 0;
};

}  // namespace mvmm::agent
