#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/memory/memory_image.hpp>

namespace mvmm {
namespace {

constexpr std::array<char, 8> kMagic{'M', 'V', 'M', 'M', 'I', 'M', 'G', '\n'};
constexpr std::uint64_t kFixedHeader = 40;
constexpr std::uint64_t kRangeRecord = 24;

std::uint64_t round_up_page(std::uint64_t value) {
    return (value + kPageSize - 1) & ~(kPageSize - 1);
}

void put64(std::vector<std::byte>& out, std::size_t at, std::uint64_t value) {
    for (int i = 0; i < 8; ++i) {
        out[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
    }
}

void put32(std::vector<std::byte>& out, std::size_t at, std::uint32_t value) {
    for (int i = 0; i < 4; ++i) {
        out[at + i] = static_cast<std::byte>((value >> (8 * i)) & 0xff);
    }
}

std::uint64_t get64(const std::byte* in) {
    std::uint64_t value = 0;
    for (int i = 7; i >= 0; --i) {
        value = (value << 8) | std::to_integer<std::uint64_t>(in[i]);
    }
    return value;
}

std::uint32_t get32(const std::byte* in) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) {
        value = (value << 8) | std::to_integer<std::uint32_t>(in[i]);
    }
    return value;
}

void write_all(int fd, const std::byte* data, std::size_t len, std::uint64_t at,
               const std::string& what) {
    while (len > 0) {
        const auto n = ::pwrite(fd, data, len, static_cast<off_t>(at));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(what);
        }
        data += n;
        len -= static_cast<std::size_t>(n);
        at += static_cast<std::uint64_t>(n);
    }
}

void read_all(int fd, std::byte* data, std::size_t len, std::uint64_t at, const std::string& what) {
    while (len > 0) {
        const auto n = ::pread(fd, data, len, static_cast<off_t>(at));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(what);
        }
        if (n == 0) {
            throw Error(cat(what, ": file ends early"));
        }
        data += n;
        len -= static_cast<std::size_t>(n);
        at += static_cast<std::uint64_t>(n);
    }
}

bool all_zero(std::span<const std::byte> bytes) {
    // Compare 8 bytes at a time; pages are 8-byte multiples.
    for (std::size_t i = 0; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t word = 0;
        std::memcpy(&word, bytes.data() + i, 8);
        if (word != 0) {
            return false;
        }
    }
    for (std::size_t i = bytes.size() & ~std::size_t{7}; i < bytes.size(); ++i) {
        if (bytes[i] != std::byte{0}) {
            return false;
        }
    }
    return true;
}

struct ParsedHeader {
    std::string metadata;
    RamLayout layout;
};

ParsedHeader parse_header(const std::filesystem::path& path) {
    const std::string name = cat("memory image ", quote(path.string()));
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno(name);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(cat(name, ": fstat"));
    }
    const auto file_size = static_cast<std::uint64_t>(st.st_size);
    if (file_size < kFixedHeader) {
        throw Error(cat(name, ": ", file_size, " bytes is too small for an image header"));
    }
    std::array<std::byte, kFixedHeader> fixed{};
    read_all(fd.get(), fixed.data(), fixed.size(), 0, name);
    if (std::memcmp(fixed.data(), kMagic.data(), kMagic.size()) != 0) {
        throw Error(cat(name, ": not a mshare-vmm memory image (bad magic)"));
    }
    const auto version = get32(&fixed[8]);
    if (version != kMemoryImageVersion) {
        throw Error(cat(name, ": unsupported image version ", version, " (this build reads ",
                        kMemoryImageVersion, ")"));
    }
    const auto count = get32(&fixed[12]);
    const auto meta_offset = get64(&fixed[16]);
    const auto meta_size = get64(&fixed[24]);
    const auto data_offset = get64(&fixed[32]);
    if (count == 0 || count > kMaxImageRanges) {
        throw Error(cat(name, ": ", count, " RAM ranges (must be 1..", kMaxImageRanges, ")"));
    }
    const std::uint64_t ranges_end = kFixedHeader + kRangeRecord * count;
    if (meta_size > kMaxImageMetadata) {
        throw Error(cat(name, ": metadata of ", meta_size, " bytes exceeds the limit of ",
                        kMaxImageMetadata));
    }
    if (meta_offset < ranges_end || meta_offset > file_size ||
        meta_size > file_size - meta_offset) {
        throw Error(cat(name, ": metadata [", meta_offset, ", +", meta_size,
                        ") lies outside the header area or the file"));
    }
    if (data_offset % kPageSize != 0 || data_offset < meta_offset + meta_size) {
        throw Error(cat(name, ": data offset ", data_offset,
                        " is not page aligned or overlaps the header"));
    }
    std::vector<std::byte> records(kRangeRecord * count);
    read_all(fd.get(), records.data(), records.size(), kFixedHeader, name);
    std::vector<RamRange> ranges;
    for (std::uint32_t i = 0; i < count; ++i) {
        const std::byte* rec = records.data() + kRangeRecord * i;
        RamRange r{get64(rec), get64(rec + 8), get64(rec + 16)};
        if (r.gpa % kPageSize != 0 || r.size % kPageSize != 0 || r.offset % kPageSize != 0) {
            throw Error(cat(name, ": range ", i, " at ", hex(r.gpa), " is not page aligned"));
        }
        if (r.offset < data_offset) {
            throw Error(
                cat(name, ": range ", i, " at ", hex(r.gpa), " has its bytes inside the header"));
        }
        if (r.offset > file_size || r.size > file_size - r.offset) {
            throw Error(cat(name, ": range ", i, " at ", hex(r.gpa), " (", human_bytes(r.size),
                            " at file offset ", r.offset, ") runs past the end of the file (",
                            file_size, " bytes)"));
        }
        ranges.push_back(r);
    }
    std::string metadata(meta_size, '\0');
    read_all(fd.get(), reinterpret_cast<std::byte*>(metadata.data()), metadata.size(), meta_offset,
             name);
    try {
        return {std::move(metadata), RamLayout(std::move(ranges))};
    } catch (const Error& e) {
        throw Error(cat(name, ": ", e.what()));
    }
}

}  // namespace

void write_memory_image(const std::filesystem::path& path, const PhysView& view,
                        std::string_view metadata, const ImageProgress& progress) {
    const std::string name = cat("memory image ", quote(path.string()));
    const auto& src = view.layout().ranges();
    if (src.empty()) {
        throw Error(cat(name, ": the guest memory view has no RAM"));
    }
    if (src.size() > kMaxImageRanges) {
        throw Error(cat(name, ": ", src.size(), " RAM ranges exceed the format's limit of ",
                        kMaxImageRanges));
    }
    if (metadata.size() > kMaxImageMetadata) {
        throw Error(cat(name, ": metadata of ", metadata.size(), " bytes exceeds the limit of ",
                        kMaxImageMetadata));
    }
    const std::uint64_t meta_offset = kFixedHeader + kRangeRecord * src.size();
    const std::uint64_t data_offset = round_up_page(meta_offset + metadata.size());

    std::vector<RamRange> ranges;
    std::uint64_t at = data_offset;
    std::uint64_t total = 0;
    for (const auto& r : src) {
        if (r.gpa % kPageSize != 0 || r.size % kPageSize != 0) {
            throw Error(cat(name, ": RAM range at ", hex(r.gpa), " is not page aligned"));
        }
        ranges.push_back({r.gpa, r.size, at});
        at += r.size;
        total += r.size;
    }
    const std::uint64_t file_size = at;

    std::vector<std::byte> header(data_offset);
    std::memcpy(header.data(), kMagic.data(), kMagic.size());
    put32(header, 8, kMemoryImageVersion);
    put32(header, 12, static_cast<std::uint32_t>(ranges.size()));
    put64(header, 16, meta_offset);
    put64(header, 24, metadata.size());
    put64(header, 32, data_offset);
    for (std::size_t i = 0; i < ranges.size(); ++i) {
        put64(header, kFixedHeader + kRangeRecord * i, ranges[i].gpa);
        put64(header, kFixedHeader + kRangeRecord * i + 8, ranges[i].size);
        put64(header, kFixedHeader + kRangeRecord * i + 16, ranges[i].offset);
    }
    std::memcpy(header.data() + meta_offset, metadata.data(), metadata.size());

    auto tmp = path;
    tmp += cat(".tmp-", ::getpid());
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (!fd) {
        throw_errno(cat(name, ": create ", quote(tmp.string())));
    }
    try {
        if (::ftruncate(fd.get(), static_cast<off_t>(file_size)) != 0) {
            throw_errno(cat(name, ": ftruncate to ", human_bytes(file_size)));
        }
        write_all(fd.get(), header.data(), header.size(), 0, name);
        // Copy in chunks; zero pages stay holes. Runs of non-zero pages are
        // written with one pwrite.
        constexpr std::uint64_t kChunk = 4 * kMiB;
        std::uint64_t done = 0;
        for (std::size_t i = 0; i < src.size(); ++i) {
            const auto& r = src[i];
            for (std::uint64_t off = 0; off < r.size; off += kChunk) {
                const auto len = std::min(kChunk, r.size - off);
                const auto bytes = view.span(r.gpa + off, len);
                if (bytes.size() != len) {
                    throw Error(
                        cat(name, ": guest memory at ", hex(r.gpa + off), " cannot be read"));
                }
                std::uint64_t run_start = 0;
                std::uint64_t run_len = 0;
                for (std::uint64_t p = 0; p < len; p += kPageSize) {
                    const auto page = bytes.subspan(p, kPageSize);
                    if (all_zero(page)) {
                        if (run_len > 0) {
                            write_all(fd.get(), bytes.data() + run_start, run_len,
                                      ranges[i].offset + off + run_start, name);
                        }
                        run_len = 0;
                        continue;
                    }
                    if (run_len == 0) {
                        run_start = p;
                    }
                    run_len += kPageSize;
                }
                if (run_len > 0) {
                    write_all(fd.get(), bytes.data() + run_start, run_len,
                              ranges[i].offset + off + run_start, name);
                }
                done += len;
                if (progress) {
                    progress(done, total);
                }
            }
        }
        if (::fsync(fd.get()) != 0) {
            throw_errno(cat(name, ": fsync"));
        }
        fd.reset();
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            throw_errno(cat(name, ": rename from ", quote(tmp.string())));
        }
    } catch (...) {
        fd.reset();
        ::unlink(tmp.c_str());
        throw;
    }
}

MemoryImage::MemoryImage(const std::filesystem::path& path)
    : path_(path), memory_([&] {
          auto parsed = parse_header(path);
          metadata_ = std::move(parsed.metadata);
          return MappedPhysMemory(path, std::move(parsed.layout));
      }()) {}

bool MemoryImage::looks_like_image(const std::filesystem::path& path) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        return false;
    }
    std::array<char, kMagic.size()> head{};
    return ::pread(fd.get(), head.data(), head.size(), 0) == static_cast<ssize_t>(head.size()) &&
           head == kMagic;
}

}  // namespace mvmm
