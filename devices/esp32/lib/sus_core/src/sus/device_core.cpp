#include "sus/device_core.hpp"

#include <algorithm>
#include <utility>

#include "sus/topics.hpp"

namespace sus {

DeviceCore::DeviceCore(const Bundle& bundle, Transport& transport, std::vector<Sensor*> sensors,
                       KeyValueStore* store, TimeSync& time, CoreOptions options)
    : bundle_(bundle),
      transport_(transport),
      sensors_(std::move(sensors)),
      store_(store),
      time_(time),
      options_(options),
      buffer_(options.buffer_capacity),
      subscriptions_{bundle.topic_down},
      next_seq_(options.first_seq) {
  if (options_.batch_max == 0) options_.batch_max = 1;
}

void DeviceCore::restore() {
  std::string saved;
  if (!store_ || !store_->get("config", saved)) return;
  ConfigUpdate u = apply_desired_config(config_, saved);
  if (u.ok) config_ = u.config;
}

void DeviceCore::take_reading(int64_t mono_ms) {
  Reading r;
  r.mono_ms = mono_ms;
  r.time_ms = time_.epoch_at(mono_ms);
  r.seq = next_seq_++;
  for (Sensor* s : sensors_) {
    std::vector<std::pair<std::string, double>> values;
    if (!s->read(values)) continue;  // a failed sensor must not cost the others' values
    for (auto& v : values) {
      if (config_.enabled(s->name(), v.first)) r.values.push_back(std::move(v));
    }
  }
  ++stats_.taken;
  if (r.values.empty()) return;
  r.dropped = pending_dropped_;
  pending_dropped_ = 0;
  if (observer_) observer_(r);
  keep(std::move(r));
}

void DeviceCore::keep(Reading r) {
  if (buffer_.full()) {
    // The oldest reading goes, and the newest (never in flight) reports it with whatever the oldest reported.
    r.dropped = add_dropped(r.dropped, uint64_t{buffer_.at(0).dropped} + 1);
    ++stats_.dropped;
    // The dropped reading was the front: if it was in flight, its PUBACK must not pop a newer one.
    if (inflight_count_ > 0) --inflight_count_;
  }
  buffer_.push(std::move(r));
}

void DeviceCore::count_dropped(uint32_t n) {
  pending_dropped_ = add_dropped(pending_dropped_, n);
  stats_.dropped += n;
}

bool DeviceCore::set_interval_s(uint32_t s) {
  if (s < kMinIntervalS || s > kMaxIntervalS) return false;
  config_.interval_s = s;
  next_sample_ms_ = -1;
  return true;
}

void DeviceCore::loop(int64_t mono_ms) {
  if (next_sample_ms_ < 0 || mono_ms >= next_sample_ms_) {
    take_reading(mono_ms);
    next_sample_ms_ = mono_ms + static_cast<int64_t>(config_.interval_s) * 1000;
  }
  pump();
}

void DeviceCore::pump() {
  if (!transport_.connected() || inflight_mid_ > 0 || buffer_.empty()) return;
  // Only readings whose time is known may leave; those taken before the first sync get it from the offset now.
  std::vector<Reading> batch;
  for (std::size_t i = 0; i < buffer_.size() && batch.size() < options_.batch_max; ++i) {
    Reading& r = buffer_.at(i);
    if (r.time_ms == 0) r.time_ms = time_.epoch_at(r.mono_ms);
    if (r.time_ms == 0) break;
    batch.push_back(r);
  }
  if (batch.empty()) return;
  std::string payload = batch.size() == 1 ? encode_reading(batch.front()) : encode_batch(batch);
  int mid = transport_.publish(bundle_.topic_up, payload);
  if (mid <= 0) return;  // retried on the next loop
  inflight_mid_ = mid;
  inflight_count_ = batch.size();
}

BacklogExport DeviceCore::export_backlog(std::size_t max_bytes) const {
  BacklogExport out;
  // Room for the brackets and for the `,"dropped":4294967295` the oldest kept reading may get.
  constexpr std::size_t kFrame = 2 + 21;
  std::size_t room = max_bytes > kFrame ? max_bytes - kFrame : 0;
  std::vector<Reading> kept;
  uint64_t lost = pending_dropped_;
  bool full = false;
  // Newest first: what does not fit is the oldest. A reading without a time is skipped without ending the run, so
  // a cold boot's unsynced readings do not cost the restored ones before them.
  for (std::size_t i = buffer_.size(); i-- > 0;) {
    Reading r = buffer_.at(i);
    if (r.time_ms == 0) r.time_ms = time_.epoch_at(r.mono_ms);
    const bool timed = r.time_ms != 0;
    const std::size_t size = timed ? encode_reading(r).size() + 1 : 0;  // with its comma
    if (timed && !full && size <= room) {
      room -= size;
      kept.push_back(std::move(r));
      continue;
    }
    full = full || timed;
    lost += uint64_t{r.dropped} + 1;
    ++out.left_out;
  }
  std::reverse(kept.begin(), kept.end());
  if (kept.empty()) {
    out.dropped = add_dropped(0, lost);
  } else {
    kept.front().dropped = add_dropped(kept.front().dropped, lost);
  }
  out.kept = kept.size();
  out.batch = encode_batch(kept);
  return out;
}

bool DeviceCore::import_backlog(const std::string& batch) {
  std::vector<Reading> restored;
  if (!decode_batch(batch, restored)) return false;
  std::vector<Reading> since_boot;
  for (std::size_t i = 0; i < buffer_.size(); ++i) since_boot.push_back(buffer_.at(i));
  buffer_.pop_front(buffer_.size());
  inflight_mid_ = -1;
  inflight_count_ = 0;
  for (auto& r : restored) keep(std::move(r));
  for (auto& r : since_boot) keep(std::move(r));
  return true;
}

void DeviceCore::on_puback(int mid) {
  if (mid != inflight_mid_) return;
  buffer_.pop_front(inflight_count_);
  stats_.published += inflight_count_;
  if (inflight_count_ > 1) ++stats_.batches;
  inflight_mid_ = -1;
  inflight_count_ = 0;
  pump();
}

void DeviceCore::on_connected() {
  inflight_mid_ = -1;
  inflight_count_ = 0;
  pump();
}

void DeviceCore::on_disconnected() {
  // Whatever was in flight stays at the buffer's front and is sent again (a duplicate has the same time and
  // device, so the platform stores it once).
  inflight_mid_ = -1;
  inflight_count_ = 0;
}

void DeviceCore::on_message(const std::string& topic, const std::string& payload) {
  std::string channel = down_channel(bundle_.device_id, topic);
  if (channel.empty()) return;
  if (channel == "config") {
    ConfigUpdate u = apply_desired_config(config_, payload);
    if (u.ok) {
      bool interval_changed = u.config.interval_s != config_.interval_s;
      config_ = u.config;
      ++stats_.configs;
      if (store_) store_->set("config", config_.to_json().dump());
      // The new interval counts from now, not from the last sample under the old one.
      if (interval_changed) next_sample_ms_ = -1;
    }
    transport_.publish(bundle_.topic_ack, encode_ack("config", u.ref, u.ok, u.ok ? &config_ : nullptr, u.error));
    return;
  }
  // Commands (`…/down/command`: {"command": id, "name": …}) this firmware does not implement are refused, never
  // left unanswered.
  Json ref;
  std::string what = channel;
  if (JsonResult j = parse_json(payload); j.ok) {
    if (const Json* r = j.value.get_any({"command", "ref", "id"})) ref = *r;
    if (const Json* n = j.value.get("name"); n && n->is_string()) what += " " + n->as_string();
  }
  transport_.publish(bundle_.topic_ack, encode_ack("command", ref, false, nullptr, "unsupported downlink " + what));
}

}  // namespace sus
