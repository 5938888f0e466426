// Names and limits of the guest agent protocol, shared by the agent in the
// guest and the client in the VMM. docs/guest-agent.md is the reference.
#pragma once

#include <cstddef>

namespace mvmm::agent {

// The agent's version, reported by guest-info and the ready event.
inline constexpr const char* kAgentVersion = "0.1.0";

// Commands.
inline constexpr const char* kSync = "guest-sync";
inline constexpr const char* kSyncDelimited = "guest-sync-delimited";
inline constexpr const char* kPing = "guest-ping";
inline constexpr const char* kInfo = "guest-info";
inline constexpr const char* kExec = "guest-exec";
inline constexpr const char* kExecStatus = "guest-exec-status";
inline constexpr const char* kMeminfo = "guest-meminfo";
inline constexpr const char* kProcesses = "guest-processes";
inline constexpr const char* kFileRead = "guest-file-read";
inline constexpr const char* kShutdown = "guest-shutdown";

// Event the agent sends when it starts, preceded by the delimiter byte.
inline constexpr const char* kReadyEvent = "agent-ready";

// Error classes (QMP's names).
inline constexpr const char* kGenericError = "GenericError";
inline constexpr const char* kCommandNotFound = "CommandNotFound";

// Limits.
inline constexpr std::size_t kMaxRequestBytes = 1024 * 1024;     // agent input
inline constexpr std::size_t kMaxReplyBytes = 64 * 1024 * 1024;  // client input
inline constexpr std::size_t kDefaultOutputLimit = 1024 * 1024;  // guest-exec, per stream
inline constexpr std::size_t kMaxOutputLimit = 16 * 1024 * 1024;
inline constexpr double kDefaultExecTimeout = 300.0;  // seconds
inline constexpr double kMaxExecTimeout = 7 * 24 * 3600.0;
inline constexpr std::size_t kMaxRunningExecs = 64;
inline constexpr std::size_t kMaxFinishedExecs = 64;  // kept until collected
inline constexpr std::size_t kDefaultFileReadBytes = 64 * 1024;
inline constexpr std::size_t kMaxFileReadBytes = 1024 * 1024;

}  // namespace mvmm::agent
