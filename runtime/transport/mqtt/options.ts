/**
 * The MQTT listener's options, each with a flag (`MQTT_FLAGS`), concatenated into the
 * node's flag table by `runtime/node/config.ts`.
 * @module
 */
import type { Flag } from "../../config/mod.ts";

/** How the MQTT listener runs and what one MQTT client may hold. */
export interface MqttOptions {
  /**
   * TCP port of the MQTT 3.1.1 / 5.0 listener on `--host`; 0 picks an ephemeral one; -1:
   * no MQTT listener.
   * @default {-1}
   */
  mqttPort: number;
  /**
   * Largest MQTT packet accepted, in bytes (fixed header included); a larger one closes
   * the connection (MQTT 5: DISCONNECT 0x95 first). Announced in a 5.0 CONNACK.
   * @default {1048576}
   */
  mqttMaxPacketBytes: number;
  /**
   * QoS 1 messages in flight per direction: unacknowledged deliveries per subscription
   * (a subscriber that stops sending PUBACK gets no more), and the client's QoS 1
   * publishes awaiting our PUBACK before the connection is read on (5.0: Receive Maximum).
   * @default {64}
   */
  mqttMaxInflight: number;
  /**
   * Seconds a TCP connection may take to send its CONNECT packet; then it is closed.
   * @default {10}
   */
  mqttConnectTimeoutSeconds: number;
  /**
   * Retained messages the node keeps (one per reality and topic); a new retained topic
   * beyond it is not retained (the message is still published) and counted.
   * @default {10000}
   */
  mqttRetainedMessages: number;
  /**
   * Payload bytes all retained messages may hold together; beyond it as above.
   * @default {16777216}
   */
  mqttRetainedBytes: number;
}

/** Defaults of {@linkcode MqttOptions}: no listener. */
export const MQTT_DEFAULTS: Readonly<MqttOptions> = Object.freeze({
  mqttPort: -1,
  mqttMaxPacketBytes: 1024 * 1024,
  mqttMaxInflight: 64,
  mqttConnectTimeoutSeconds: 10,
  mqttRetainedMessages: 10_000,
  mqttRetainedBytes: 16 * 1024 * 1024,
});

/** The MQTT options as flags, in `--help` order. */
export const MQTT_FLAGS: readonly Flag<keyof MqttOptions>[] = Object.freeze([
  {
    key: "mqttPort",
    flag: "mqtt-port",
    kind: "int",
    env: "ARQON_MQTT_PORT",
    help: "MQTT 3.1.1/5.0 listener port on --host, plain TCP (0: ephemeral; unset: no listener)",
  },
  {
    key: "mqttMaxPacketBytes",
    flag: "mqtt-max-packet-bytes",
    kind: "int",
    help: "largest MQTT packet accepted (larger: connection closed)",
  },
  {
    key: "mqttMaxInflight",
    flag: "mqtt-max-inflight",
    kind: "int",
    help: "unacknowledged QoS 1 messages per subscription, and per client's publishes",
  },
  {
    key: "mqttConnectTimeoutSeconds",
    flag: "mqtt-connect-timeout",
    kind: "int",
    help: "seconds an MQTT connection may take to send CONNECT",
  },
  {
    key: "mqttRetainedMessages",
    flag: "mqtt-retained-messages",
    kind: "int",
    help: "retained MQTT messages kept (one per topic; new topics beyond: not retained)",
  },
  {
    key: "mqttRetainedBytes",
    flag: "mqtt-retained-bytes",
    kind: "int",
    help: "payload bytes all retained MQTT messages may hold",
  },
]);
