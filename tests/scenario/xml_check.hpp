// A strict well-formedness check for the XML the reports write (XML 1.0,
// UTF-8, no DTD): one root element, matching tags, quoted attributes without
// '<', only known entities and valid character references, only characters
// XML allows. Returns "" if well-formed, else what is wrong and where.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::scenario::xmlcheck {

inline bool xml_char(std::uint32_t c) {
    return c == 0x9 || c == 0xa || c == 0xd || (c >= 0x20 && c <= 0xd7ff) ||
           (c >= 0xe000 && c <= 0xfffd) || (c >= 0x10000 && c <= 0x10ffff);
}

// Decodes one UTF-8 character at text[i]; returns its length, 0 if invalid.
inline std::size_t decode(std::string_view text, std::size_t i, std::uint32_t& cp) {
    const auto b = static_cast<unsigned char>(text[i]);
    std::size_t n = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > text.size()) {
        return 0;
    }
    cp = n == 1 ? b : n == 2 ? (b & 0x1f) : n == 3 ? (b & 0x0f) : (b & 0x07);
    for (std::size_t k = 1; k < n; ++k) {
        const auto c = static_cast<unsigned char>(text[i + k]);
        if ((c >> 6) != 2) {
            return 0;
        }
        cp = (cp << 6) | (c & 0x3f);
    }
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000)) {
        return 0;
    }
    return n;
}

inline bool name_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.' ||
           c == ':';
}

class Checker {
  public:
    explicit Checker(std::string_view text) : t_(text) {}

    std::string run() {
        // Characters first.
        for (std::size_t i = 0; i < t_.size();) {
            std::uint32_t cp = 0;
            const auto n = decode(t_, i, cp);
            if (n == 0) {
                return at(i, "invalid UTF-8");
            }
            if (!xml_char(cp)) {
                return at(i, "character not allowed in XML");
            }
            i += n;
        }
        if (t_.substr(0, 5) == "<?xml") {
            const auto end = t_.find("?>");
            if (end == std::string_view::npos) {
                return at(0, "unterminated XML declaration");
            }
            p_ = end + 2;
        }
        bool root_seen = false;
        while (p_ < t_.size()) {
            if (t_[p_] == '<') {
                if (t_.substr(p_, 4) == "<!--") {
                    const auto end = t_.find("-->", p_);
                    if (end == std::string_view::npos) {
                        return at(p_, "unterminated comment");
                    }
                    p_ = end + 3;
                    continue;
                }
                if (t_.substr(p_, 2) == "</") {
                    p_ += 2;
                    const auto name = read_name();
                    if (name.empty()) {
                        return at(p_, "end tag without a name");
                    }
                    skip_space();
                    if (p_ >= t_.size() || t_[p_] != '>') {
                        return at(p_, "end tag not closed");
                    }
                    ++p_;
                    if (stack_.empty() || stack_.back() != name) {
                        return at(p_, "end tag </" + name + "> does not match");
                    }
                    stack_.pop_back();
                    continue;
                }
                ++p_;
                if (stack_.empty() && root_seen) {
                    return at(p_, "a second root element");
                }
                root_seen = true;
                auto error = start_tag();
                if (!error.empty()) {
                    return error;
                }
                continue;
            }
            if (stack_.empty()) {
                if (std::isspace(static_cast<unsigned char>(t_[p_])) == 0) {
                    return at(p_, "text outside the root element");
                }
                ++p_;
                continue;
            }
            if (t_[p_] == '&') {
                auto error = reference();
                if (!error.empty()) {
                    return error;
                }
                continue;
            }
            if (t_[p_] == '>' && p_ >= 2 && t_.substr(p_ - 2, 3) == "]]>") {
                return at(p_, "]]> in text");
            }
            ++p_;
        }
        if (!stack_.empty()) {
            return at(p_, "element <" + stack_.back() + "> not closed");
        }
        if (!root_seen) {
            return at(0, "no root element");
        }
        return "";
    }

  private:
    std::string at(std::size_t pos, const std::string& what) const {
        return what + " at byte " + std::to_string(pos);
    }
    std::string read_name() {
        const auto start = p_;
        while (p_ < t_.size() && name_char(t_[p_])) {
            ++p_;
        }
        return std::string(t_.substr(start, p_ - start));
    }
    void skip_space() {
        while (p_ < t_.size() && std::isspace(static_cast<unsigned char>(t_[p_])) != 0) {
            ++p_;
        }
    }
    std::string reference() {
        const auto end = t_.find(';', p_);
        if (end == std::string_view::npos || end - p_ > 12) {
            return at(p_, "bare &");
        }
        const auto ref = t_.substr(p_ + 1, end - p_ - 1);
        if (ref == "amp" || ref == "lt" || ref == "gt" || ref == "quot" || ref == "apos") {
            p_ = end + 1;
            return "";
        }
        if (ref.size() >= 2 && ref[0] == '#') {
            std::uint32_t cp = 0;
            const bool hex = ref[1] == 'x';
            for (std::size_t i = hex ? 2 : 1; i < ref.size(); ++i) {
                const char c = ref[i];
                int d = -1;
                if (c >= '0' && c <= '9') {
                    d = c - '0';
                } else if (hex && c >= 'a' && c <= 'f') {
                    d = c - 'a' + 10;
                } else if (hex && c >= 'A' && c <= 'F') {
                    d = c - 'A' + 10;
                }
                if (d < 0) {
                    return at(p_, "bad character reference");
                }
                cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(d);
            }
            if (!xml_char(cp)) {
                return at(p_, "character reference to a character XML does not allow");
            }
            p_ = end + 1;
            return "";
        }
        return at(p_, "unknown entity &" + std::string(ref) + ";");
    }
    std::string start_tag() {
        const auto name = read_name();
        if (name.empty()) {
            return at(p_, "tag without a name");
        }
        std::vector<std::string> attributes;
        while (true) {
            const auto before = p_;
            skip_space();
            if (p_ >= t_.size()) {
                return at(p_, "unterminated tag");
            }
            if (t_[p_] == '>') {
                ++p_;
                stack_.push_back(name);
                return "";
            }
            if (t_.substr(p_, 2) == "/>") {
                p_ += 2;
                return "";
            }
            if (p_ == before) {
                return at(p_, "no space before an attribute");
            }
            const auto attr = read_name();
            if (attr.empty()) {
                return at(p_, "bad attribute name");
            }
            for (const auto& a : attributes) {
                if (a == attr) {
                    return at(p_, "attribute " + attr + " twice");
                }
            }
            attributes.push_back(attr);
            if (p_ >= t_.size() || t_[p_] != '=') {
                return at(p_, "attribute without =");
            }
            ++p_;
            if (p_ >= t_.size() || (t_[p_] != '"' && t_[p_] != '\'')) {
                return at(p_, "attribute value not quoted");
            }
            const char quote = t_[p_++];
            while (p_ < t_.size() && t_[p_] != quote) {
                if (t_[p_] == '<') {
                    return at(p_, "< in an attribute value");
                }
                if (t_[p_] == '&') {
                    auto error = reference();
                    if (!error.empty()) {
                        return error;
                    }
                    continue;
                }
                ++p_;
            }
            if (p_ >= t_.size()) {
                return at(p_, "unterminated attribute value");
            }
            ++p_;
        }
    }

    std::string_view t_;
    std::size_t p_ = 0;
    std::vector<std::string> stack_;
};

inline std::string check(std::string_view text) {
    return Checker(text).run();
}

}  // namespace mvmm::scenario::xmlcheck
