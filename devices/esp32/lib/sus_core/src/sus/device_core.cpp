#include "sus/device_core.hpp"

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
  if (observer_) observer_(r);
  if (!buffer_.push(std::move(r))) {
    ++stats_.dropped;
    // The dropped reading was the front: if it was in flight, its PUBACK must not pop a newer one.
    if (inflight_count_ > 0) --inflight_count_;
  }
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

std::string DeviceCore::export_backlog() const {
  std::vector<Reading> keep;
  for (std::size_t i = 0; i < buffer_.size(); ++i) {
    Reading r = buffer_.at(i);
    if (r.time_ms == 0) r.time_ms = time_.epoch_at(r.mono_ms);
    if (r.time_ms != 0) keep.push_back(std::move(r));
  }
  return encode_batch(keep);
}

bool DeviceCore::import_backlog(const std::string& batch) {
  std::vector<Reading> restored;
  if (!decode_batch(batch, restored)) return false;
  std::vector<Reading> since_boot;
  for (std::size_t i = 0; i < buffer_.size(); ++i) since_boot.push_back(buffer_.at(i));
  buffer_.pop_front(buffer_.size());
  inflight_mid_ = -1;
  inflight_count_ = 0;
  for (auto& r : restored) {
    if (!buffer_.push(std::move(r))) ++stats_.dropped;
  }
  for (auto& r : since_boot) {
    if (!buffer_.push(std::move(r))) ++stats_.dropped;
  }
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
