/**
 * MQTT 3.1.1 and 5.0 for devices: a listener whose connections are ordinary sessions of
 * the node (see `connection.ts`), the topic mapping, retained messages and its flags.
 * @module
 */
export { MqttConnection, type MqttConnectionContext } from "./connection.ts";
export {
  type MqttGate,
  type MqttListener,
  type MqttListenerOptions,
  startMqttListener,
} from "./listener.ts";
export { MQTT_DEFAULTS, MQTT_FLAGS, type MqttOptions } from "./options.ts";
export { type RetainedMessage, RetainedStore } from "./retained.ts";
export { filterFromMqtt, realityFromUsername, topicFromMqtt, topicToMqtt } from "./topics.ts";
