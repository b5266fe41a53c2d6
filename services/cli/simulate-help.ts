/** `sus simulate`'s lines of `sus help`: apart from simulate.ts, so the help does not load the simulator. */
export const SIMULATE_HELP = `  simulate           publish demo readings to a running platform
      --devices N      number of demo devices (default SUS_DEMO_DEVICES)
      --interval MS    per-device reporting interval (default SUS_DEMO_INTERVAL_MS)
      --format F       canonical | senml (MQTT) | ttn | chirpstack (HTTP push with --key; default canonical)
      --url URL        broker URL (default mqtt://127.0.0.1:SUS_MQTT_PORT)
      --api URL --key K  the API (HTTP push formats; default SUS_API_URL / SUS_API_KEY)
      --duration S     stop after S seconds (default: until Ctrl-C)
      faults: --malformed SHARE --duplicates SHARE --skew-share SHARE --skew S --offline SHARE --offline-readings N`;
