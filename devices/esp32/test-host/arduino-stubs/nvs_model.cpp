// The NVS model behind the Preferences stub (see nvs_model.h for the rules it follows).
#include "nvs_model.h"

#include <algorithm>
#include <stdexcept>

namespace stub {

Nvs::Nvs(std::size_t partition_bytes)
    : free_(partition_bytes / kPageBytes - 1, kEntriesPerPage),
      max_blob_(std::min<std::size_t>(508000, partition_bytes * 976 / 1000 - 4000)) {}

bool Nvs::place(Type type, std::size_t size, std::vector<std::pair<std::size_t, std::size_t>>& where) {
  std::vector<std::size_t> f = free_;
  auto first_with = [&f](std::size_t n) {
    return static_cast<std::size_t>(std::find_if(f.begin(), f.end(), [n](std::size_t e) { return e >= n; }) - f.begin());
  };
  auto take = [&f, &where](std::size_t page, std::size_t n) {
    f[page] -= n;
    where.emplace_back(page, n);
  };
  if (type == Type::U32 || type == Type::Str) {
    // One entry, or a header and the data (terminator included) in a row on one page.
    const std::size_t need = type == Type::U32 ? 1 : 1 + (size + 1 + kEntryBytes - 1) / kEntryBytes;
    const std::size_t page = first_with(need);
    if (page == f.size()) return false;
    take(page, need);
  } else {
    const std::size_t index = first_with(1);
    if (index == f.size()) return false;
    take(index, 1);
    std::size_t data = (size + kEntryBytes - 1) / kEntryBytes;
    for (std::size_t page = 0; page < f.size() && data > 0; ++page) {
      if (f[page] < 2) continue;  // a chunk needs its header and at least one data entry
      const std::size_t n = std::min(f[page] - 1, data);
      take(page, n + 1);
      data -= n;
    }
    if (data > 0) return false;
  }
  free_ = f;
  return true;
}

void Nvs::release(const std::vector<std::pair<std::size_t, std::size_t>>& where) {
  for (const auto& w : where) free_[w.first] += w.second;
}

Nvs::Result Nvs::set(const std::string& key, Type type, const std::string& bytes) {
  if (type == Type::Str && bytes.size() + 1 > kMaxStringBytes) return Result::ValueTooLong;
  if (type == Type::Blob && bytes.size() > max_blob_) return Result::ValueTooLong;
  auto old = items_.find(key);
  if (old != items_.end() && old->second.type != type) return Result::TypeMismatch;
  // NVS compares before it writes: the same value again costs nothing.
  if (old != items_.end() && old->second.bytes == bytes) return Result::Ok;
  std::vector<std::pair<std::size_t, std::size_t>> where;
  if (!place(type, bytes.size(), where)) return Result::NotEnoughSpace;
  if (old != items_.end()) release(old->second.pages);
  items_[key] = Item{type, bytes, where};
  return Result::Ok;
}

Nvs::Result Nvs::get(const std::string& key, Type type, std::string& bytes) const {
  auto it = items_.find(key);
  if (it == items_.end()) return Result::NotFound;
  if (it->second.type != type) return Result::TypeMismatch;
  bytes = it->second.bytes;
  return Result::Ok;
}

Nvs::Result Nvs::erase(const std::string& key) {
  auto it = items_.find(key);
  if (it == items_.end()) return Result::NotFound;
  release(it->second.pages);
  items_.erase(it);
  return Result::Ok;
}

Nvs::Result Nvs::open(const std::string& name) {
  if (std::find(namespaces_.begin(), namespaces_.end(), name) != namespaces_.end()) return Result::Ok;
  std::vector<std::pair<std::size_t, std::size_t>> where;
  if (!place(Type::U32, 1, where)) return Result::NotEnoughSpace;
  namespaces_.push_back(name);
  return Result::Ok;
}

void Nvs::put(const std::string& key, Type type, const std::string& bytes) {
  if (set(key, type, bytes) != Result::Ok) {
    throw std::runtime_error("NVS refuses " + key + " (" + std::to_string(bytes.size()) + " bytes)");
  }
}

std::size_t Nvs::free_entries() const {
  std::size_t n = 0;
  for (std::size_t f : free_) n += f;
  return n;
}

void Nvs::fill(std::size_t leave) {
  for (std::size_t& f : free_) {
    const std::size_t total = free_entries();
    const std::size_t n = std::min(f, total > leave ? total - leave : 0);
    f -= n;
  }
}

}  // namespace stub
