// sus-device: the firmware core on Linux. Same behaviour as the ESP32 (bundle, readings, offline backlog, desired
// config, acks), with libmosquitto as the MQTT client and synthetic sensors. Events go to stdout as JSON lines.
#include <mosquitto.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>

#include "sus/backoff.hpp"
#include "sus/bundle.hpp"
#include "sus/device_core.hpp"
#include "sus/endpoint_order.hpp"
#include "sus/topics.hpp"
#include "sus/json.hpp"

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

int64_t mono_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}
int64_t epoch_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

void event(const std::string& name, sus::Json fields = sus::Json::object()) {
  sus::Json e = sus::Json::object();
  e.set("event", sus::Json::string(name));
  for (const auto& m : fields.members()) e.set(m.first, m.second);
  std::printf("%s\n", e.dump().c_str());
  std::fflush(stdout);
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream ss;
  ss << f.rdbuf();
  out = ss.str();
  return true;
}

bool write_file(const std::string& path, const std::string& data) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) return false;
    f << data;
    if (!f) return false;
  }
  return std::rename(tmp.c_str(), path.c_str()) == 0;  // atomic, like an NVS commit
}

/** The host's NVS: one file per key in the state directory. */
class FileStore : public sus::KeyValueStore {
 public:
  explicit FileStore(std::string dir) : dir_(std::move(dir)) { ::mkdir(dir_.c_str(), 0700); }
  bool get(const std::string& key, std::string& value) override { return read_file(dir_ + "/" + key, value); }
  bool set(const std::string& key, const std::string& value) override {
    return write_file(dir_ + "/" + key, value);
  }

 private:
  std::string dir_;
};

/** A climate sensor with a daily cycle and noise, like the simulator's weather station. */
class SyntheticClimate : public sus::Sensor {
 public:
  explicit SyntheticClimate(uint32_t seed) : rng_(seed) {}
  const char* name() const override { return "climate"; }
  bool read(std::vector<std::pair<std::string, double>>& out) override {
    double hour = static_cast<double>(epoch_ms() % 86400000) / 3600000.0;
    double cycle = std::cos(2 * M_PI * (hour - 15) / 24);
    std::normal_distribution<double> noise(0, 0.3);
    out.emplace_back("air_temperature", std::round((15 + 5 * cycle + noise(rng_)) * 10) / 10);
    out.emplace_back("relative_humidity", std::round((65 - 12 * cycle + 3 * noise(rng_)) * 10) / 10);
    return true;
  }

 private:
  std::mt19937 rng_;
};

class SyntheticBattery : public sus::Sensor {
 public:
  const char* name() const override { return "battery"; }
  bool read(std::vector<std::pair<std::string, double>>& out) override {
    volts_ = volts_ > 3.4 ? volts_ - 0.001 : 4.2;
    out.emplace_back("battery_voltage", std::round(volts_ * 1000) / 1000);
    return true;
  }

 private:
  double volts_ = 4.1;
};

class MosquittoTransport : public sus::Transport {
 public:
  explicit MosquittoTransport(mosquitto* m) : m_(m) {}
  bool connected() const override { return connected_; }
  int publish(const std::string& topic, const std::string& payload) override {
    int mid = 0;
    int rc = mosquitto_publish(m_, &mid, topic.c_str(), static_cast<int>(payload.size()), payload.data(), 1, false);
    if (rc != MOSQ_ERR_SUCCESS) {
      sus::Json f = sus::Json::object();
      f.set("error", sus::Json::string(mosquitto_strerror(rc)));
      event("publish_failed", f);
      return -1;
    }
    return mid;
  }
  bool connected_ = false;

 private:
  mosquitto* m_;
};

struct App {
  sus::DeviceCore* core = nullptr;
  MosquittoTransport* transport = nullptr;
  sus::Backoff* backoff = nullptr;
  sus::EndpointOrder* endpoints = nullptr;
  std::string down_filter;
};

void usage() {
  std::fprintf(stderr,
               "usage: sus-device [--bundle FILE] [--state DIR] [--interval S] [--buffer N] [--seed N]\n"
               "  --bundle FILE   provisioning bundle (JSON); stored in the state dir (default: the stored one)\n"
               "  --state DIR     where the bundle, the applied config and the unsent backlog are kept\n"
               "                  (default ./sus-device-state)\n"
               "  --interval S    initial reporting interval in seconds (default 60; desired config overrides)\n"
               "  --buffer N      offline buffer capacity in readings (default 512)\n");
}

}  // namespace

int main(int argc, char** argv) {
  std::string bundle_path, state_dir = "sus-device-state";
  uint32_t interval_s = 0, seed = 1;
  std::size_t buffer = 512;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--bundle") bundle_path = next();
    else if (a == "--state") state_dir = next();
    else if (a == "--interval") interval_s = static_cast<uint32_t>(std::strtoul(next().c_str(), nullptr, 10));
    else if (a == "--buffer") buffer = std::strtoul(next().c_str(), nullptr, 10);
    else if (a == "--seed") seed = static_cast<uint32_t>(std::strtoul(next().c_str(), nullptr, 10));
    else {
      usage();
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }

  FileStore store(state_dir);
  std::string text;
  if (!bundle_path.empty()) {
    if (!read_file(bundle_path, text)) {
      std::fprintf(stderr, "sus-device: cannot read %s\n", bundle_path.c_str());
      return 1;
    }
  } else if (!store.get("bundle", text)) {
    std::fprintf(stderr, "sus-device: no bundle given and none stored in %s\n", state_dir.c_str());
    return 1;
  }
  sus::BundleResult parsed = sus::parse_bundle(text);
  if (!parsed.ok) {
    std::fprintf(stderr, "sus-device: %s\n", parsed.error.c_str());
    return 1;
  }
  const sus::Bundle& bundle = parsed.bundle;
  if (!bundle_path.empty()) store.set("bundle", sus::serialize_bundle(bundle));
  std::string cafile;
  if (!bundle.ca_cert.empty()) {
    cafile = state_dir + "/ca.pem";
    write_file(cafile, bundle.ca_cert);
  }

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  mosquitto_lib_init();
  mosquitto* m = mosquitto_new(bundle.client_id.c_str(), true, nullptr);
  if (!m) {
    std::fprintf(stderr, "sus-device: mosquitto_new failed\n");
    return 1;
  }
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_username_pw_set(m, bundle.username.c_str(), bundle.password.c_str());
  if (!cafile.empty()) mosquitto_tls_set(m, cafile.c_str(), nullptr, nullptr, nullptr, nullptr);

  MosquittoTransport transport(m);
  sus::TimeSync time;
  SyntheticClimate climate(seed);
  SyntheticBattery battery;
  sus::CoreOptions options;
  options.buffer_capacity = buffer;
  // seq keeps increasing across restarts, like the simulator's (epoch seconds as the base).
  options.first_seq = static_cast<uint32_t>(epoch_ms() / 1000);
  sus::DeviceCore core(bundle, transport, {&climate, &battery}, &store, time, options);
  core.restore();
  // Like the firmware after a deep sleep: readings not acknowledged before the last stop go out first.
  if (std::string saved; store.get("backlog", saved)) core.import_backlog(saved);
  // Readings lost before the last stop that no kept reading reports: the next one taken does.
  if (std::string lost; store.get("dropped", lost)) {
    core.count_dropped(static_cast<uint32_t>(std::strtoul(lost.c_str(), nullptr, 10)));
  }
  if (interval_s > 0 && !core.set_interval_s(interval_s)) {
    std::fprintf(stderr, "sus-device: --interval must be in [%u, %u]\n", sus::kMinIntervalS, sus::kMaxIntervalS);
    return 2;
  }
  core.on_reading([](const sus::Reading& r) {
    sus::Json f = sus::Json::object();
    f.set("seq", sus::Json::number(r.seq));
    f.set("time", sus::Json::number(static_cast<double>(r.time_ms)));
    sus::Json values = sus::Json::object();
    for (const auto& v : r.values) values.set(v.first, sus::Json::number(v.second));
    f.set("values", values);
    event("reading", f);
  });
  std::mt19937 rng(seed ^ static_cast<uint32_t>(epoch_ms()));
  sus::Backoff backoff(500, 30000, [&rng] { return static_cast<uint32_t>(rng()); });
  sus::EndpointOrder endpoints(bundle.endpoints.size());
  App app{&core, &transport, &backoff, &endpoints, bundle.topic_down};
  mosquitto_user_data_set(m, &app);

  mosquitto_connect_callback_set(m, [](mosquitto* mq, void* ud, int rc) {
    App& a = *static_cast<App*>(ud);
    sus::Json f = sus::Json::object();
    if (rc != 0) {
      f.set("code", sus::Json::number(rc));
      f.set("reason", sus::Json::string(mosquitto_connack_string(rc)));
      event("refused", f);
      return;
    }
    a.transport->connected_ = true;
    a.backoff->reset();
    a.endpoints->on_connected();
    mosquitto_subscribe(mq, nullptr, a.down_filter.c_str(), 1);
    event("connected");
    a.core->on_connected();
  });
  mosquitto_disconnect_callback_set(m, [](mosquitto*, void* ud, int) {
    App& a = *static_cast<App*>(ud);
    if (!a.transport->connected_) return;
    a.transport->connected_ = false;
    a.core->on_disconnected();
    sus::Json f = sus::Json::object();
    f.set("backlog", sus::Json::number(static_cast<double>(a.core->backlog())));
    event("disconnected", f);
  });
  mosquitto_publish_callback_set(m, [](mosquitto*, void* ud, int mid) {
    App& a = *static_cast<App*>(ud);
    uint64_t before = a.core->stats().published;
    a.core->on_puback(mid);
    uint64_t acked = a.core->stats().published - before;
    if (acked > 0) {
      sus::Json f = sus::Json::object();
      f.set("count", sus::Json::number(static_cast<double>(acked)));
      f.set("backlog", sus::Json::number(static_cast<double>(a.core->backlog())));
      event("published", f);
    }
  });
  mosquitto_message_callback_set(m, [](mosquitto*, void* ud, const mosquitto_message* msg) {
    App& a = *static_cast<App*>(ud);
    std::string payload(static_cast<const char*>(msg->payload), static_cast<std::size_t>(msg->payloadlen));
    uint64_t before = a.core->stats().configs;
    a.core->on_message(msg->topic, payload);
    sus::Json f = sus::Json::object();
    f.set("topic", sus::Json::string(msg->topic));
    f.set("applied", sus::Json::boolean(a.core->stats().configs > before));
    f.set("interval_s", sus::Json::number(a.core->config().interval_s));
    event("downlink", f);
  });

  event("started", [&] {
    sus::Json f = sus::Json::object();
    f.set("device", sus::Json::string(bundle.device_id));
    f.set("interval_s", sus::Json::number(core.config().interval_s));
    return f;
  }());

  bool ever_connected = false;  // a connect went out: mosquitto_loop has a socket to serve
  bool tried = false;
  int64_t next_attempt = 0;
  while (!g_stop) {
    int64_t now = mono_ms();
    time.on_sync(epoch_ms(), now);  // the host clock stands in for SNTP
    if (!transport.connected_ && now >= next_attempt) {
      // Until a broker accepted the device once, an attempt that got no CONNACK 0 (unreachable, refused, TLS
      // failed, no answer) moves on to the bundle's next URL.
      if (tried && endpoints.on_failed()) {
        sus::Json f = sus::Json::object();
        f.set("url", sus::Json::string(bundle.endpoints[endpoints.current()].url));
        event("next_url", f);
      }
      tried = true;
      const sus::MqttEndpoint& ep = bundle.endpoints[endpoints.current()];
      int rc = endpoints.settled() ? mosquitto_reconnect(m) : mosquitto_connect(m, ep.host.c_str(), ep.port, 30);
      if (rc == MOSQ_ERR_SUCCESS) {
        ever_connected = true;
        next_attempt = now + 5000;  // CONNACK pending; try again if it never comes
      } else {
        uint32_t delay = backoff.next_delay_ms();
        next_attempt = now + delay;
        sus::Json f = sus::Json::object();
        f.set("error", sus::Json::string(mosquitto_strerror(rc)));
        f.set("retry_ms", sus::Json::number(delay));
        f.set("backlog", sus::Json::number(static_cast<double>(core.backlog())));
        event("connect_failed", f);
      }
    }
    core.loop(now);
    if (ever_connected) {
      int rc = mosquitto_loop(m, 50, 1);
      if (rc != MOSQ_ERR_SUCCESS && transport.connected_) {
        transport.connected_ = false;
        core.on_disconnected();
        sus::Json f = sus::Json::object();
        f.set("backlog", sus::Json::number(static_cast<double>(core.backlog())));
        event("disconnected", f);
      }
      if (rc != MOSQ_ERR_SUCCESS && next_attempt <= now) next_attempt = now + backoff.next_delay_ms();
      if (rc != MOSQ_ERR_SUCCESS) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  if (transport.connected_) {
    // Give the last publishes a moment to be acknowledged before leaving.
    for (int i = 0; i < 20 && core.backlog() > 0; ++i) mosquitto_loop(m, 50, 1);
    mosquitto_disconnect(m);
  }
  // No budget here (the state directory is a file system); `dropped` counts readings whose time was never known.
  sus::BacklogExport saved = core.export_backlog();
  store.set("backlog", saved.batch);
  store.set("dropped", std::to_string(saved.dropped));
  sus::Json f = sus::Json::object();
  f.set("taken", sus::Json::number(static_cast<double>(core.stats().taken)));
  f.set("published", sus::Json::number(static_cast<double>(core.stats().published)));
  f.set("backlog", sus::Json::number(static_cast<double>(core.backlog())));
  event("stopped", f);
  mosquitto_destroy(m);
  mosquitto_lib_cleanup();
  return 0;
}
