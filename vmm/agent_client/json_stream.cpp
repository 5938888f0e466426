#include <mvmm/agent/json_stream.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::agent {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

constexpr std::size_t kGarbageHead = 32;

}  // namespace

void JsonStreamSplitter::reset() {
    state_ = State::idle;
    buffer_.clear();
    buffer_.shrink_to_fit();
    depth_ = 0;
    in_string_ = false;
    escape_ = false;
    garbage_head_.clear();
    garbage_size_ = 0;
}

void JsonStreamSplitter::finish_garbage(std::vector<Item>& out) {
    std::string text = "invalid input: expected a JSON object, got " + quote(garbage_head_);
    if (garbage_size_ > garbage_head_.size()) {
        text += cat(" (", garbage_size_, " bytes)");
    }
    out.push_back({Item::Kind::error, std::move(text)});
    garbage_head_.clear();
    garbage_size_ = 0;
    state_ = State::idle;
}

void JsonStreamSplitter::feed(std::string_view bytes, std::vector<Item>& out) {
    for (const char c : bytes) {
        if (c == kDelimiter) {
            reset();
            out.push_back({Item::Kind::delimiter, {}});
            continue;
        }
        if (state_ == State::garbage) {
            if (!is_space(c) && c != '{' && c != '[') {
                if (garbage_head_.size() < kGarbageHead) {
                    garbage_head_ += c;
                }
                ++garbage_size_;
                continue;
            }
            finish_garbage(out);  // a bracket after garbage starts a message
        }
        switch (state_) {
            case State::garbage:
                break;
            case State::idle:
                if (is_space(c)) {
                    break;
                }
                if (c == '{' || c == '[') {
                    state_ = State::value;
                    buffer_.assign(1, c);
                    depth_ = 1;
                    in_string_ = false;
                    escape_ = false;
                } else {
                    state_ = State::garbage;
                    garbage_head_.assign(1, c);
                    garbage_size_ = 1;
                }
                break;
            case State::value:
            case State::oversized:
                if (state_ == State::value) {
                    if (buffer_.size() >= max_message_) {
                        out.push_back(
                            {Item::Kind::error, cat("message too large: more than ", max_message_,
                                                    " bytes; skipping the rest of it")});
                        buffer_.clear();
                        buffer_.shrink_to_fit();
                        state_ = State::oversized;
                    } else {
                        buffer_ += c;
                    }
                }
                if (in_string_) {
                    if (escape_) {
                        escape_ = false;
                    } else if (c == '\\') {
                        escape_ = true;
                    } else if (c == '"') {
                        in_string_ = false;
                    }
                } else if (c == '"') {
                    in_string_ = true;
                } else if (c == '{' || c == '[') {
                    ++depth_;
                } else if (c == '}' || c == ']') {
                    if (--depth_ == 0) {
                        if (state_ == State::value) {
                            out.push_back({Item::Kind::message, std::move(buffer_)});
                        }
                        buffer_.clear();
                        state_ = State::idle;
                    }
                }
                break;
        }
    }
}

}  // namespace mvmm::agent
