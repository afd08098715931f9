// Test operator: traps inside `init` (publication must refuse it with a 4xx).
import { Pulse } from "@arqon/operator";

export function init(config: string): string | null {
  if (config.length >= 0) unreachable();
  return null;
}

export function handle(pulse: Pulse): Pulse[] {
  return [];
}
