/**
 * Fuzz generator of WebSocket frame headers: bad opcodes, lengths, masks and fragments
 * on a fresh connection each.
 * @module
 */
import { concat, F, frames } from "../../support/pb.ts";
import { clientFrame } from "../support.ts";
import { ERROR_NAMES, quietClose } from "./common.ts";
import { enc, type FuzzKit, WAIT_MS } from "./fuzz_kit.ts";
import { protoTemplate } from "./fuzz_frames.ts";
import { closeCodeOf, FrameReader } from "./wire.ts";

/** Random frame headers on a fresh connection: bad opcodes, lengths, masks, fragments. */
export async function headerCase(kit: FuzzKit): Promise<string> {
  const [ws, reader] = await FrameReader.open(kit.node.port);
  try {
    const parts: Uint8Array[] = [];
    const frameCount = 1 + kit.int(4);
    for (let i = 0; i < frameCount; i++) parts.push(randomFrame(kit));
    await ws.write(concat(...parts));
    // A ping of each kind: an alive connection answers one of them.
    await ws.write(clientFrame(0x9, enc.encode("k")));
    while (true) {
      const ev = await reader.next(WAIT_MS);
      // A frame that declared more bytes than were sent is still being waited for.
      if (ev.kind === "timeout") return "header waiting";
      if (ev.kind === "eof") return "header eof";
      if (ev.opcode === 0x8) {
        const code = closeCodeOf(ev.payload);
        // RFC 6455 7.4: codes a close frame must never carry (issue 11, section 4).
        if (!validCloseCode(code)) kit.invalidCloses++;
        return `header close ${code}`;
      }
      if (ev.opcode === 0xa) return "header alive";
      if (ev.opcode === 0x2) {
        try {
          for (const [kind, m] of frames(ev.payload)) {
            if (kind === F.error) {
              kit.error(ERROR_NAMES[Number(m.get(1)?.at(-1) ?? 0)] ?? "UNSPECIFIED", "header");
            }
          }
        } catch {
          kit.violation("header case: undecodable server frame");
        }
      }
    }
  } finally {
    quietClose(ws);
  }
}

function randomFrame(kit: FuzzKit): Uint8Array {
  const opcode = kit.random() < 0.5 ? kit.pick([0, 1, 2, 8, 9, 10]) : kit.int(16);
  const fin = kit.random() < 0.7;
  let payload = kit.bytes(kit.int(kit.random() < 0.1 ? 300 : 40));
  if (opcode === 8 && kit.random() < 0.7) {
    const code = kit.pick([0, 999, 1000, 1001, 1004, 1005, 1006, 1015, 3000, 4999, 5000]);
    const reason = kit.random() < 0.5 ? Uint8Array.of(0xc3, 0x28) : enc.encode("bye");
    payload = kit.random() < 0.2
      ? Uint8Array.of(3)
      : concat(Uint8Array.of(code >> 8, code & 0xff), reason);
  }
  if (opcode === 2 && kit.random() < 0.5) payload = protoTemplate(kit);
  const frame = clientFrame(opcode, payload, fin);
  const m = kit.int(5);
  if (m === 0) frame[1] &= 0x7f; // unmasked: a client must mask
  else if (m === 1) frame[0] |= 0x10 << kit.int(3); // reserved bits
  else if (m === 2) {
    // A length that lies: a 64-bit length with the high bit, or more than is sent.
    const lie = new Uint8Array(10);
    lie[0] = frame[0];
    lie[1] = 0x80 | 127;
    lie.set(
      kit.pick([[0x80, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0x01, 0, 0, 0], [
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        5,
      ]]),
      2,
    );
    return concat(lie, Uint8Array.of(1, 2, 3, 4), payload);
  }
  return frame;
}

/** Whether a close code may appear in a close frame (RFC 6455 section 7.4). */
function validCloseCode(code: number): boolean {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}
