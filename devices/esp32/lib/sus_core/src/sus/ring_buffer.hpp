// A fixed-capacity FIFO for the offline backlog: allocated once (no heap churn on the ESP32), and when full the
// OLDEST reading is dropped — a technician would rather see the last hours than the first ones.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sus {

template <typename T>
class RingBuffer {
 public:
  explicit RingBuffer(std::size_t capacity) : slots_(capacity ? capacity : 1) {}

  std::size_t capacity() const { return slots_.size(); }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  bool full() const { return size_ == slots_.size(); }
  /** Items dropped because the buffer was full, since construction. */
  uint64_t dropped() const { return dropped_; }

  /** Appends; returns false when the oldest item had to be dropped to make room. */
  bool push(T item) {
    bool kept_all = true;
    if (full()) {
      head_ = (head_ + 1) % slots_.size();
      --size_;
      ++dropped_;
      kept_all = false;
    }
    slots_[(head_ + size_) % slots_.size()] = std::move(item);
    ++size_;
    return kept_all;
  }

  /** i-th oldest item (0 = oldest); i < size(). */
  T& at(std::size_t i) { return slots_[(head_ + i) % slots_.size()]; }
  const T& at(std::size_t i) const { return slots_[(head_ + i) % slots_.size()]; }

  /** Removes the n oldest items (after they were delivered). */
  void pop_front(std::size_t n = 1) {
    if (n > size_) n = size_;
    head_ = (head_ + n) % slots_.size();
    size_ -= n;
  }

 private:
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace sus
