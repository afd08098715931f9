// Test operator: for each input (a number), emits `{"n":N,"k_c":<k_c as it sees it>}` on
// `echo.k_c`, so a test can tell which control parameter set each input was handled with.
// Input "trap" traps (the instance is rebuilt: the node must hand it the set again).
// `onControl` refuses a set whose `mode` is "refuse" and traps on one whose `mode` is "trap".
import { controlParam, Header, outputText, Pulse } from "@arqon/operator";

export function onControl(params: Header[]): string | null {
  for (let i = 0; i < params.length; i++) {
    if (params[i].name != "mode") continue;
    if (params[i].value == '"refuse"') return "mode refuse: refused";
    if (params[i].value == '"trap"') unreachable();
  }
  return null;
}

export function handle(pulse: Pulse): Pulse[] {
  const text = pulse.text();
  if (text == "trap") unreachable();
  const k = controlParam("k_c");
  return [outputText("echo.k_c", '{"n":' + text + ',"k_c":' + (k === null ? "null" : k) + "}")];
}
