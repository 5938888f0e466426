// What goes into the initramfs: a list of entries (folders, files, symlinks,
// device nodes) kept sorted by path, read from manifest files.
//
// Manifest syntax, one entry a line, '#' starts a comment:
//   dir     PATH MODE
//   file    PATH SOURCE MODE
//   slink   PATH TARGET
//   nod     PATH MODE c|b MAJOR MINOR
//   busybox PATH SOURCE        (the binary plus a symlink for every applet it lists)
// MODE is octal. Missing parent folders are added with mode 0755.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::initramfs {

enum class EntryType { directory, file, symlink, char_device, block_device };

struct Entry {
    std::string path;  // inside the archive, without a leading '/': "bin/sh"
    EntryType type = EntryType::file;
    std::uint32_t mode = 0;              // permission bits only
    std::filesystem::path source;        // file: where the content comes from
    std::string target;                  // symlink: where it points
    std::uint32_t major = 0, minor = 0;  // device nodes
};

class Manifest {
  public:
    // Adds an entry and any missing parent folders. Throws Error when the
    // path is already taken by a different entry or is not a valid path.
    void add(Entry entry);

    // Parses manifest text; `origin` names it in error messages. Relative
    // SOURCE paths are resolved against `base_dir`.
    void parse(std::string_view text, std::string_view origin,
               const std::filesystem::path& base_dir);
    void parse_file(const std::filesystem::path& file);

    // Entries sorted by path (folders before their contents).
    [[nodiscard]] std::vector<Entry> entries() const;
    [[nodiscard]] const Entry* find(std::string_view path) const;
    [[nodiscard]] std::size_t size() const { return entries_.size(); }

  private:
    void add_parents(const std::string& path);
    std::map<std::string, Entry> entries_;
    std::set<std::string> weak_;  // applet links that explicit entries may replace
};

// "/bin//sh/" -> "bin/sh"; throws Error for "", "/", ".." components.
std::string normalize_path(std::string_view path);

}  // namespace mvmm::initramfs
