/// <reference lib="dom" />
/**
 * The live pulse inspector: subscribes to a pattern in a reality over SSE (through
 * `fetch`, so the admin token goes as a header) and shows the newest pulses,
 * pretty-printed JSON; a JSON payload shows as JSON (`data`), not base64.
 * @module
 */
import { AuthError, streamEvents } from "./api.ts";
import { h, jsonBlock } from "./dom.ts";
import type { PulseJson } from "./model.ts";
import type { SeenTopics } from "./views_traffic.ts";

/** Pulses kept on the page (the oldest leave first): the page's memory stays bounded. */
export const MAX_SHOWN = 50;
/** Distinct topics remembered for the topics view. */
const MAX_TOPICS = 500;

/** Wires the inspector's form; `onAuth` is told when the node wants a token. */
export function setupInspector(seen: SeenTopics, onAuth: (e: AuthError) => void): void {
  const form = document.getElementById("inspect-form") as HTMLFormElement;
  const reality = document.getElementById("inspect-reality") as HTMLInputElement;
  const pattern = document.getElementById("inspect-pattern") as HTMLInputElement;
  const button = document.getElementById("inspect-toggle") as HTMLButtonElement;
  const status = document.getElementById("inspect-status")!;
  const list = document.getElementById("inspect-pulses")!;
  let running: AbortController | null = null;

  const stop = (why: string) => {
    running?.abort();
    running = null;
    button.textContent = "Start";
    status.textContent = why;
  };

  const show = (pulse: PulseJson) => {
    const topic = String(pulse.topic ?? "");
    const key = `${reality.value}\u0000${topic}`;
    const t = seen.get(key);
    if (t) {
      t.count++;
      t.lastSeq = String(pulse.sequence ?? "");
      t.at = Date.now();
    } else if (seen.size < MAX_TOPICS) {
      seen.set(key, {
        reality: reality.value,
        topic,
        count: 1,
        lastSeq: String(pulse.sequence ?? ""),
        at: Date.now(),
      });
    }
    const item = h(
      "li",
      { class: "pulse", "data-topic": topic },
      h(
        "div",
        { class: "pulse-head" },
        `#${pulse.sequence ?? "?"} `,
        h("code", {}, topic),
        ` · ${pulse.producerId ?? ""}`,
      ),
      jsonBlock(pulse),
    );
    list.prepend(item);
    while (list.childElementCount > MAX_SHOWN) list.lastElementChild!.remove();
  };

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    if (running) return stop("stopped");
    const controller = running = new AbortController();
    button.textContent = "Stop";
    status.textContent = "connecting…";
    list.replaceChildren();
    const path = `/v1/realities/${
      encodeURIComponent(reality.value || "default")
    }/subscribe?pattern=${encodeURIComponent(pattern.value || ">")}`;
    streamEvents(path, (e) => {
      if (e.event === "subscribed") {
        status.textContent = `live: ${pattern.value} in ${reality.value}`;
      } else if (e.event === "pulse") show(JSON.parse(e.data));
      else if (e.event === "error") status.textContent = `node says: ${e.data}`;
    }, controller.signal).then(
      () => running === controller && stop("the node ended the stream"),
      (err) => {
        if (controller.signal.aborted) return;
        if (err instanceof AuthError) onAuth(err);
        stop(String(err.message ?? err));
      },
    );
  });
}
