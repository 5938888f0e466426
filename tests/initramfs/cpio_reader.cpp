#include "cpio_reader.hpp"

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include <archive.h>
#include <archive_entry.h>

namespace mvmm::test {

std::vector<CpioMember> read_cpio(const std::filesystem::path& file) {
    std::unique_ptr<archive, decltype(&archive_read_free)> ar(archive_read_new(),
                                                              &archive_read_free);
    archive_read_support_format_cpio(ar.get());
    archive_read_support_filter_none(ar.get());
    if (archive_read_open_filename(ar.get(), file.c_str(), 65536) != ARCHIVE_OK) {
        throw std::runtime_error("cannot open " + file.string() + ": " +
                                 archive_error_string(ar.get()));
    }
    std::vector<CpioMember> members;
    archive_entry* entry = nullptr;
    int rc = 0;
    while ((rc = archive_read_next_header(ar.get(), &entry)) == ARCHIVE_OK) {
        CpioMember m;
        m.path = archive_entry_pathname(entry);
        m.type = archive_entry_filetype(entry);
        m.perm = archive_entry_perm(entry);
        m.uid = archive_entry_uid(entry);
        m.gid = archive_entry_gid(entry);
        m.mtime = archive_entry_mtime(entry);
        m.ino = archive_entry_ino64(entry);
        m.rdev_major = archive_entry_rdevmajor(entry);
        m.rdev_minor = archive_entry_rdevminor(entry);
        if (const char* link = archive_entry_symlink(entry)) {
            m.symlink = link;
        }
        if (m.type == AE_IFREG) {
            m.data.resize(static_cast<std::size_t>(archive_entry_size(entry)));
            if (!m.data.empty() && archive_read_data(ar.get(), m.data.data(), m.data.size()) !=
                                       static_cast<la_ssize_t>(m.data.size())) {
                throw std::runtime_error("short read of " + m.path);
            }
        }
        members.push_back(std::move(m));
    }
    if (rc != ARCHIVE_EOF) {
        throw std::runtime_error("bad archive " + file.string() + ": " +
                                 archive_error_string(ar.get()));
    }
    return members;
}

std::string read_file_bytes(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
}

}  // namespace mvmm::test
