// mvmm-mkinitramfs: builds the guest's initramfs (cpio newc) from manifest
// files, reproducibly and without root. See docs/guest-agent.md, "The initramfs".
//
//   mvmm-mkinitramfs --output initramfs.cpio [--mtime SECONDS] [--depfile FILE] MANIFEST...
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <mvmm/common/error.hpp>

#include "cpio_writer.hpp"
#include "manifest.hpp"

namespace {

int usage(const char* argv0) {
    std::cerr << "usage: " << argv0
              << " --output FILE [--mtime SECONDS] [--depfile FILE] MANIFEST...\n"
              << "  --mtime    defaults to $SOURCE_DATE_EPOCH, or 0\n"
              << "  --depfile  also write a Makefile-style list of every input\n";
    return 2;
}

std::int64_t parse_mtime(const std::string& text, const char* what) {
    if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos ||
        text.size() > 15) {
        throw mvmm::Error(std::string(what) + " '" + text + "' is not a number of seconds");
    }
    return std::stoll(text);
}

std::string make_escape(const std::string& path) {
    std::string out;
    for (char c : path) {
        if (c == ' ' || c == '#' || c == '\\') {
            out += '\\';
        } else if (c == '$') {
            out += '$';
        }
        out += c;
    }
    return out;
}

// "OUTPUT: MANIFEST... SOURCE..." so the build reruns us when any input changes.
void write_depfile(const std::string& depfile, const std::string& output,
                   const std::vector<std::string>& manifests,
                   const mvmm::initramfs::Manifest& manifest) {
    std::ofstream out(depfile);
    out << make_escape(output) << ":";
    for (const auto& m : manifests) {
        out << " \\\n  " << make_escape(std::filesystem::absolute(m).string());
    }
    for (const auto& entry : manifest.entries()) {
        if (entry.type == mvmm::initramfs::EntryType::file) {
            out << " \\\n  " << make_escape(entry.source.string());
        }
    }
    out << "\n";
    if (!out) {
        throw mvmm::Error("depfile '" + depfile + "': cannot write");
    }
}

}  // namespace

int main(int argc, char** argv) {
    std::string output;
    std::string depfile;
    std::vector<std::string> manifests;
    mvmm::initramfs::CpioOptions options;
    try {
        if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH"); epoch != nullptr && *epoch) {
            options.mtime = parse_mtime(epoch, "SOURCE_DATE_EPOCH");
        }
        for (int i = 1; i < argc; ++i) {
            const std::string arg = argv[i];
            if ((arg == "--output" || arg == "-o") && i + 1 < argc) {
                output = argv[++i];
            } else if (arg == "--depfile" && i + 1 < argc) {
                depfile = argv[++i];
            } else if (arg == "--mtime" && i + 1 < argc) {
                options.mtime = parse_mtime(argv[++i], "--mtime");
            } else if (arg == "--help" || arg == "-h") {
                usage(argv[0]);
                return 0;
            } else if (!arg.empty() && arg[0] == '-') {
                std::cerr << argv[0] << ": unknown option '" << arg << "'\n";
                return usage(argv[0]);
            } else {
                manifests.push_back(arg);
            }
        }
        if (output.empty() || manifests.empty()) {
            return usage(argv[0]);
        }
        mvmm::initramfs::Manifest manifest;
        for (const auto& file : manifests) {
            manifest.parse_file(file);
        }
        mvmm::initramfs::write_cpio(manifest, output, options);
        if (!depfile.empty()) {
            write_depfile(depfile, output, manifests, manifest);
        }
        std::cout << "initramfs: wrote " << output << " (" << manifest.size() << " entries)\n";
        return 0;
    } catch (const mvmm::Error& e) {
        std::cerr << argv[0] << ": " << e.what() << '\n';
        return 1;
    }
}
