#include "cpio_writer.hpp"

#include <cstring>
#include <fstream>
#include <memory>
#include <vector>

#include <archive.h>
#include <archive_entry.h>
#include <elf.h>
#include <sys/stat.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm::initramfs {
namespace {

struct ArchiveCloser {
    void operator()(archive* a) const { archive_write_free(a); }
};
struct EntryFreer {
    void operator()(archive_entry* e) const { archive_entry_free(e); }
};

std::string read_source(const Entry& entry) {
    std::ifstream in(entry.source, std::ios::binary | std::ios::ate);
    if (!in) {
        throw Error("initramfs entry " + quote(entry.path) + ": cannot open source " +
                    quote(entry.source.string()));
    }
    const std::streamoff size = in.tellg();
    std::string data(size > 0 ? static_cast<std::size_t>(size) : 0, '\0');
    in.seekg(0);
    if (size < 0 || !in.read(data.data(), static_cast<std::streamsize>(data.size()))) {
        throw Error("initramfs entry " + quote(entry.path) + ": cannot read source " +
                    quote(entry.source.string()));
    }
    return data;
}

unsigned file_type_bits(EntryType type) {
    switch (type) {
        case EntryType::directory:
            return AE_IFDIR;
        case EntryType::file:
            return AE_IFREG;
        case EntryType::symlink:
            return AE_IFLNK;
        case EntryType::char_device:
            return AE_IFCHR;
        case EntryType::block_device:
            return AE_IFBLK;
    }
    return AE_IFREG;
}

}  // namespace

bool elf_needs_interpreter(const std::string& data) {
    if (data.size() < sizeof(Elf64_Ehdr) || data.compare(0, SELFMAG, ELFMAG) != 0 ||
        data[EI_CLASS] != ELFCLASS64) {
        return false;
    }
    Elf64_Ehdr eh;
    std::memcpy(&eh, data.data(), sizeof eh);
    if (eh.e_phentsize != sizeof(Elf64_Phdr)) {
        return false;
    }
    for (std::size_t i = 0; i < eh.e_phnum; ++i) {
        const std::size_t off = eh.e_phoff + i * sizeof(Elf64_Phdr);
        if (off < eh.e_phoff || off + sizeof(Elf64_Phdr) > data.size()) {
            return false;
        }
        Elf64_Phdr ph;
        std::memcpy(&ph, data.data() + off, sizeof ph);
        if (ph.p_type == PT_INTERP) {
            return true;
        }
    }
    return false;
}

namespace {

void write_archive(const Manifest& manifest, const std::string& out_name,
                   const std::string& tmp_name, const CpioOptions& options) {
    std::unique_ptr<archive, ArchiveCloser> ar(archive_write_new());
    if (!ar) {
        throw Error("initramfs " + quote(out_name) + ": archive_write_new failed");
    }
    const auto check = [&](int rc, const std::string& what) {
        if (rc != ARCHIVE_OK) {
            const char* msg = archive_error_string(ar.get());
            throw Error("initramfs " + quote(out_name) + ": " + what + ": " +
                        (msg != nullptr ? msg : "libarchive error"));
        }
    };
    check(archive_write_set_format_cpio_newc(ar.get()), "set cpio newc format");
    check(archive_write_add_filter_none(ar.get()), "set no compression");
    // cpio has no blocking; keep libarchive from padding the last block.
    check(archive_write_set_bytes_in_last_block(ar.get(), 1), "set last block size");
    check(archive_write_open_filename(ar.get(), tmp_name.c_str()), "open " + quote(tmp_name));

    std::int64_t ino = 1;
    for (const auto& entry : manifest.entries()) {
        std::unique_ptr<archive_entry, EntryFreer> ae(archive_entry_new());
        archive_entry_set_pathname(ae.get(), entry.path.c_str());
        archive_entry_set_filetype(ae.get(), file_type_bits(entry.type));
        archive_entry_set_perm(ae.get(), entry.mode);
        archive_entry_set_uid(ae.get(), 0);
        archive_entry_set_gid(ae.get(), 0);
        archive_entry_set_mtime(ae.get(), options.mtime, 0);
        archive_entry_set_ino64(ae.get(), ino++);
        archive_entry_set_dev(ae.get(), 0);
        archive_entry_set_nlink(ae.get(), entry.type == EntryType::directory ? 2 : 1);
        std::string data;
        switch (entry.type) {
            case EntryType::file:
                data = read_source(entry);
                if (options.require_static_elf && elf_needs_interpreter(data)) {
                    throw Error("initramfs entry " + quote(entry.path) + ": source " +
                                quote(entry.source.string()) +
                                " is dynamically linked (has PT_INTERP); the initramfs has no "
                                "C library, so guest programs must be static");
                }
                archive_entry_set_size(ae.get(), static_cast<la_int64_t>(data.size()));
                break;
            case EntryType::symlink:
                archive_entry_set_symlink(ae.get(), entry.target.c_str());
                archive_entry_set_size(ae.get(), 0);
                break;
            case EntryType::char_device:
            case EntryType::block_device:
                archive_entry_set_rdevmajor(ae.get(), entry.major);
                archive_entry_set_rdevminor(ae.get(), entry.minor);
                archive_entry_set_size(ae.get(), 0);
                break;
            case EntryType::directory:
                archive_entry_set_size(ae.get(), 0);
                break;
        }
        check(archive_write_header(ar.get(), ae.get()), "entry " + quote(entry.path));
        if (!data.empty()) {
            const la_ssize_t n = archive_write_data(ar.get(), data.data(), data.size());
            if (n < 0 || static_cast<std::size_t>(n) != data.size()) {
                check(ARCHIVE_FATAL, "write data of " + quote(entry.path));
            }
        }
    }
    check(archive_write_close(ar.get()), "close");
}

}  // namespace

void write_cpio(const Manifest& manifest, const std::filesystem::path& output,
                const CpioOptions& options) {
    const std::string out_name = output.string();
    const std::string tmp_name = out_name + ".tmp";
    try {
        write_archive(manifest, out_name, tmp_name, options);
    } catch (...) {
        std::error_code ignored;
        std::filesystem::remove(tmp_name, ignored);
        throw;
    }
    std::error_code ec;
    std::filesystem::rename(tmp_name, output, ec);
    if (ec) {
        throw Error("initramfs " + quote(out_name) + ": rename from " + quote(tmp_name) + ": " +
                    ec.message());
    }
}

}  // namespace mvmm::initramfs
