// Records engine events and waits for them (tests only).
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <vector>

#include <mvmm/engine/engine.hpp>

namespace mvmm::test {

class EventLog {
  public:
    Engine::EventHandler handler() {
        return [this](const EngineEvent& event) {
            {
                const std::lock_guard lock(mutex_);
                events_.push_back(event);
            }
            cv_.notify_all();
        };
    }
    // The first event of `kind`, waiting up to `limit` for it.
    std::optional<EngineEvent> wait_for(EngineEvent::Kind kind, std::chrono::seconds limit) {
        std::unique_lock lock(mutex_);
        std::optional<EngineEvent> found;
        cv_.wait_for(lock, limit, [&] {
            for (const auto& e : events_) {
                if (e.kind == kind) {
                    found = e;
                    return true;
                }
            }
            return false;
        });
        return found;
    }
    [[nodiscard]] std::size_t count(EngineEvent::Kind kind) const {
        const std::lock_guard lock(mutex_);
        std::size_t n = 0;
        for (const auto& e : events_) {
            n += e.kind == kind ? 1 : 0;
        }
        return n;
    }

  private:
    mutable std::mutex mutex_;
    std::condition_variable cv_;
    std::vector<EngineEvent> events_;
};

}  // namespace mvmm::test
