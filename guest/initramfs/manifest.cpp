#include "manifest.hpp"

#include <fstream>
#include <sstream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

#include "busybox.hpp"

namespace mvmm::initramfs {
namespace {

const char* type_name(EntryType type) {
    switch (type) {
        case EntryType::directory:
            return "dir";
        case EntryType::file:
            return "file";
        case EntryType::symlink:
            return "slink";
        case EntryType::char_device:
            return "char device";
        case EntryType::block_device:
            return "block device";
    }
    return "entry";
}

bool same_entry(const Entry& a, const Entry& b) {
    return a.type == b.type && a.mode == b.mode && a.source == b.source && a.target == b.target &&
           a.major == b.major && a.minor == b.minor;
}

std::uint32_t parse_mode(const std::string& text, const std::string& where) {
    if (text.empty() || text.size() > 5 ||
        text.find_first_not_of("01234567") != std::string::npos) {
        throw Error(where + ": mode " + quote(text) + " is not an octal number of up to 4 digits");
    }
    const auto mode = static_cast<std::uint32_t>(std::stoul(text, nullptr, 8));
    if (mode > 07777) {
        throw Error(where + ": mode " + quote(text) + " has bits above 07777");
    }
    return mode;
}

std::uint32_t parse_number(const std::string& text, const std::string& where, const char* what) {
    if (text.empty() || text.size() > 9 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
        throw Error(where + ": " + what + " " + quote(text) + " is not a decimal number");
    }
    return static_cast<std::uint32_t>(std::stoul(text));
}

}  // namespace

std::string normalize_path(std::string_view path) {
    std::string out;
    for (const auto& part : split(path, '/')) {
        if (part.empty() || part == ".") {
            continue;
        }
        if (part == "..") {
            throw Error("initramfs path " + quote(path) + ": '..' is not allowed");
        }
        if (!out.empty()) {
            out += '/';
        }
        out += part;
    }
    if (out.empty()) {
        throw Error("initramfs path " + quote(path) + ": names no file (empty or root)");
    }
    return out;
}

void Manifest::add_parents(const std::string& path) {
    std::size_t pos = 0;
    while ((pos = path.find('/', pos)) != std::string::npos) {
        const std::string parent = path.substr(0, pos);
        const auto it = entries_.find(parent);
        if (it == entries_.end()) {
            Entry dir;
            dir.path = parent;
            dir.type = EntryType::directory;
            dir.mode = 0755;
            entries_.emplace(parent, dir);
        } else if (it->second.type != EntryType::directory) {
            throw Error("initramfs path " + quote(path) + ": parent " + quote(parent) + " is a " +
                        type_name(it->second.type) + ", not a dir");
        }
        ++pos;
    }
}

void Manifest::add(Entry entry) {
    entry.path = normalize_path(entry.path);
    if (entry.mode > 07777) {
        throw Error("initramfs path " + quote(entry.path) + ": mode has bits above 07777");
    }
    if (entry.type == EntryType::symlink && entry.target.empty()) {
        throw Error("initramfs path " + quote(entry.path) + ": symlink with an empty target");
    }
    add_parents(entry.path);
    const auto it = entries_.find(entry.path);
    if (it != entries_.end() && weak_.erase(entry.path) > 0) {
        it->second = std::move(entry);  // an explicit entry replaces an applet link
        return;
    }
    if (it != entries_.end()) {
        // A folder added implicitly may be restated explicitly with another mode.
        if (it->second.type == EntryType::directory && entry.type == EntryType::directory) {
            it->second.mode = entry.mode;
            return;
        }
        if (same_entry(it->second, entry)) {
            return;
        }
        throw Error("initramfs path " + quote(entry.path) + ": already added as a " +
                    type_name(it->second.type));
    }
    const std::string key = entry.path;
    entries_.emplace(key, std::move(entry));
}

void Manifest::parse(std::string_view text, std::string_view origin,
                     const std::filesystem::path& base_dir) {
    int line_no = 0;
    for (const auto& raw : split(text, '\n')) {
        ++line_no;
        std::string line = raw;
        if (const auto hash = line.find('#'); hash != std::string::npos) {
            line.erase(hash);
        }
        std::istringstream in(line);
        std::vector<std::string> words;
        for (std::string word; in >> word;) {
            words.push_back(word);
        }
        if (words.empty()) {
            continue;
        }
        const std::string where = cat("manifest ", quote(origin), " line ", line_no);
        const auto& directive = words[0];
        const auto need = [&](std::size_t count, const char* usage) {
            if (words.size() != count) {
                throw Error(where + ": " + quote(directive) + " takes " + usage);
            }
        };
        const auto source_path = [&](const std::string& source) {
            std::filesystem::path p(source);
            return p.is_absolute() ? p : base_dir / p;
        };
        Entry entry;
        if (directive == "dir") {
            need(3, "PATH MODE");
            entry.path = words[1];
            entry.type = EntryType::directory;
            entry.mode = parse_mode(words[2], where);
        } else if (directive == "file") {
            need(4, "PATH SOURCE MODE");
            entry.path = words[1];
            entry.type = EntryType::file;
            entry.source = source_path(words[2]);
            entry.mode = parse_mode(words[3], where);
        } else if (directive == "slink") {
            need(3, "PATH TARGET");
            entry.path = words[1];
            entry.type = EntryType::symlink;
            entry.target = words[2];
            entry.mode = 0777;
        } else if (directive == "nod") {
            need(6, "PATH MODE c|b MAJOR MINOR");
            entry.path = words[1];
            entry.mode = parse_mode(words[2], where);
            if (words[3] == "c") {
                entry.type = EntryType::char_device;
            } else if (words[3] == "b") {
                entry.type = EntryType::block_device;
            } else {
                throw Error(where + ": device type " + quote(words[3]) + " is not 'c' or 'b'");
            }
            entry.major = parse_number(words[4], where, "major");
            entry.minor = parse_number(words[5], where, "minor");
        } else if (directive == "busybox") {
            need(3, "PATH SOURCE");
            const auto binary = source_path(words[2]);
            try {
                Entry bb;
                bb.path = words[1];
                bb.type = EntryType::file;
                bb.source = binary;
                bb.mode = 0755;
                add(bb);
                const std::string target = "/" + normalize_path(words[1]);
                for (const auto& applet : busybox_applets(binary)) {
                    if (normalize_path(applet) == normalize_path(words[1])) {
                        continue;
                    }
                    Entry link;
                    link.path = applet;
                    link.type = EntryType::symlink;
                    link.target = target;
                    link.mode = 0777;
                    // An explicit entry of the manifest wins over an applet link.
                    const std::string path = normalize_path(applet);
                    if (find(path) == nullptr) {
                        add(link);
                        weak_.insert(path);
                    }
                }
            } catch (const Error& e) {
                throw Error(where + ": " + e.what());
            }
            continue;
        } else {
            throw Error(where + ": unknown directive " + quote(directive) +
                        " (known: dir, file, slink, nod, busybox)");
        }
        try {
            add(std::move(entry));
        } catch (const Error& e) {
            throw Error(where + ": " + e.what());
        }
    }
}

void Manifest::parse_file(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        throw Error("manifest " + quote(file.string()) + ": cannot open");
    }
    std::ostringstream text;
    text << in.rdbuf();
    parse(text.str(), file.string(), file.parent_path());
}

std::vector<Entry> Manifest::entries() const {
    std::vector<Entry> out;
    out.reserve(entries_.size());
    for (const auto& [path, entry] : entries_) {
        out.push_back(entry);
    }
    return out;
}

const Entry* Manifest::find(std::string_view path) const {
    const auto it = entries_.find(std::string(path));
    return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace mvmm::initramfs
