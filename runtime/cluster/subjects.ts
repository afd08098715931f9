/**
 * How a cluster names what it keeps on NATS: a reality's stream and subjects, the durable
 * consumer a queue group shares, the interest subjects and the announcement subject. Every
 * node derives the same names, so none has to tell another.
 * @module
 */

/** The NATS subject of a reality's topic (topics and realities are valid subject tokens). */
export function pulseSubject(realityId: string, topic: string): string {
  return `ar.${realityId}.${topic}`;
}

/** The JetStream stream of a reality. */
export function realityStream(realityId: string): string {
  return `ar_${realityId}`;
}

/** The durable consumer a queue group shares across nodes (one per reality, group, pattern). */
export function groupConsumer(group: string, pattern: string): string {
  // FNV-1a of the pattern: consumer names allow no dots nor wildcards.
  let h = 0x811c9dc5;
  for (let i = 0; i < pattern.length; i++) {
    h ^= pattern.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return `g_${group}_${h.toString(16).padStart(8, "0")}`;
}

/** Where a node answers "I have a subscriber" for requests from other nodes. */
export function interestSubject(realityId: string, pattern: string): string {
  return `arqon.interest.${realityId}.${pattern}`;
}

/** Where nodes announce a reality they created a stream for, so the others consume it. */
export const ANNOUNCE_SUBJECT = "arqon.cluster.reality";
