// Which of the bundle's MQTT URLs a connect attempt uses. On the first connect they are tried in order (each failed
// attempt moves on, wrapping, the reconnect backoff between attempts); once one has accepted a connection the device
// stays with it, so a broker outage later is waited out there instead of hopping to a URL the platform listed only
// as a fallback for reaching it at all.
#pragma once

#include <cstddef>

namespace sus {

class EndpointOrder {
 public:
  explicit EndpointOrder(std::size_t count) : count_(count) {}

  /** Index into Bundle::endpoints of the URL the next attempt goes to. */
  std::size_t current() const { return index_; }
  /** The broker accepted the connection (CONNACK 0): this URL from now on. */
  void on_connected() { settled_ = true; }
  /** A broker accepted this device once: reconnects go to the same URL. */
  bool settled() const { return settled_; }
  /** A connect attempt failed (unreachable, refused, dropped before CONNACK); true when the next one uses another URL. */
  bool on_failed() {
    if (settled_ || count_ < 2) return false;
    index_ = (index_ + 1) % count_;
    return true;
  }

 private:
  std::size_t count_;
  std::size_t index_ = 0;
  bool settled_ = false;
};

}  // namespace sus
