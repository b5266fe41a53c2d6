#include <doctest.h>

#include "sus/bundle.hpp"

using sus::parse_bundle;

TEST_CASE("bundle: the documented shape parses with contract topics as defaults") {
  auto r = parse_bundle(
      R"({"version":1,"device_id":"aq-01","mqtt":{"urls":["mqtt://10.0.0.5:1884","mqtts://sus.example.org"],)"
      R"("username":"aq-01","password":"s3cret","ca_cert":"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"}})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.device_id == "aq-01");
  REQUIRE(r.bundle.endpoints.size() == 2);
  CHECK(r.bundle.endpoints[0].host == "10.0.0.5");
  CHECK(r.bundle.endpoints[0].port == 1884);
  CHECK(!r.bundle.endpoints[0].tls);
  CHECK(r.bundle.endpoints[1].port == 8883);
  CHECK(r.bundle.endpoints[1].tls);
  CHECK(r.bundle.client_id == "aq-01");
  CHECK(r.bundle.topic_up == "sus/v1/devices/aq-01/up");
  CHECK(r.bundle.topic_ack == "sus/v1/devices/aq-01/ack");
  CHECK(r.bundle.topic_down == "sus/v1/devices/aq-01/down/#");
}

TEST_CASE("bundle: camelCase and a flat mqttUrl are accepted, username defaults to the device id") {
  auto r = parse_bundle(R"({"deviceId":"x-1","mqttUrl":"mqtt://h","password":"p"})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.username == "x-1");
  CHECK(r.bundle.endpoints[0].port == 1883);
}

TEST_CASE("bundle: the API's claim bundle (device, mqtt.clientId, topics, caCertificate null) parses") {
  auto r = parse_bundle(
      R"({"device":"aq-7","department":"environment","type":"air_quality","mqtt":{"urls":["mqtt://127.0.0.1:1883"],)"
      R"("username":"aq-7","password":"pw","clientId":"aq-7"},"topics":{"up":"sus/v1/devices/aq-7/up",)"
      R"("status":"sus/v1/devices/aq-7/status","down":"sus/v1/devices/aq-7/down/#","ack":"sus/v1/devices/aq-7/ack"},)"
      R"("caCertificate":null})");
  REQUIRE_MESSAGE(r.ok, r.error);
  CHECK(r.bundle.device_id == "aq-7");
  CHECK(r.bundle.ca_cert.empty());
  CHECK(r.bundle.topic_down == "sus/v1/devices/aq-7/down/#");
}

TEST_CASE("bundle: serialize then parse gives the same bundle (what is stored in NVS reads back)") {
  auto a = parse_bundle(R"({"device_id":"n-1","mqtt":{"url":"mqtt://h:1","password":"p","client_id":"n-1:b"}})");
  REQUIRE(a.ok);
  auto b = parse_bundle(sus::serialize_bundle(a.bundle));
  REQUIRE_MESSAGE(b.ok, b.error);
  CHECK(b.bundle.client_id == "n-1:b");
  CHECK(b.bundle.endpoints[0].url == "mqtt://h:1");
  CHECK(sus::serialize_bundle(b.bundle) == sus::serialize_bundle(a.bundle));
}

TEST_CASE("bundle: invalid bundles are refused with a reason") {
  struct Case {
    const char* json;
    const char* error;
  };
  for (const Case& c : {
           Case{"[]", "bundle must be a JSON object"},
           Case{R"({"device_id":"Bad Id","mqtt":{"url":"mqtt://h","password":"p"}})", "bundle: device_id missing or invalid"},
           Case{R"({"device_id":"a","mqtt":{"password":"p"}})", "bundle: no MQTT url"},
           Case{R"({"device_id":"a","mqtt":{"url":"http://h","password":"p"}})", "bundle: bad MQTT url http://h"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h:99999","password":"p"}})", "bundle: bad MQTT url mqtt://h:99999"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h"}})", "bundle: password missing"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtts://h","password":"p"}})", "bundle: TLS endpoint mqtts://h needs a PEM ca_cert"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h","password":"p","client_id":"b"}})", "bundle: client_id must be the device id or id:suffix"},
           Case{R"({"device_id":"a","mqtt":{"url":"mqtt://h","password":"p"},"topics":{"up":"sus/v1/devices/b/up"}})", "bundle: topic sus/v1/devices/b/up is not under sus/v1/devices/a/"},
       }) {
    auto r = parse_bundle(c.json);
    CHECK(!r.ok);
    CHECK(r.error == c.error);
  }
}
